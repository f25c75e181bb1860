"""Issue 16 points 1-2: the selection rule never picks a degenerate map; W = I is a candidate on
joint spaces; the orthogonality numbers of every candidate.

Data: ``synthetic_emb.make_pair(n=600, dim=16, n_clusters=20, spectrum_decay=6.0, seed=1)``
(target = source rotated by Q + noise). The collapsed map ``u v^T`` (u, v: the source and target
mean directions, + 1e-3 noise) has MUSE's criterion 0.95 while translating nothing; the
distorted map ``Q diag(0.2 .. 1.8)`` (also far from orthogonal) has MUSE's criterion 0.91 but its
polar factor is exactly Q (criterion 1.0). Refinement from the collapsed map reaches 0.85-0.92
only, so MUSE's rule keeps the collapse (as on the real data of the issue).
"""
from __future__ import annotations

import argparse

import pytest
import torch

from fairseq_xdomain.embeddings.vecio import save_vec
from fairseq_xdomain.ubli.adversarial import AdversarialConfig
from fairseq_xdomain.ubli.align import score_epoch, select_run
from fairseq_xdomain.ubli.commands.cli import build_parser
from fairseq_xdomain.ubli.commands.grid import add_grid_arguments, run_args
from fairseq_xdomain.ubli.evaluation import load_dictionary
from fairseq_xdomain.ubli.grid import Grid
from fairseq_xdomain.ubli.grid_summary import select
from fairseq_xdomain.ubli.history import SeedHistory
from fairseq_xdomain.ubli.refinement import RefinementConfig
from fairseq_xdomain.ubli.selection import (
    detect_joint_space,
    is_nonorthogonal,
    nearest_orthogonal,
    orthogonality,
)
from fairseq_xdomain.ubli.synthetic_emb import make_pair, words_for, write_pair

N, DIM = 600, 16
REF = RefinementConfig(n_refinement=3, dico_max_rank=0, criterion_max_rank=0)


def _pair():
    src, tgt, perm, Q = make_pair(n=N, dim=DIM, n_clusters=20, spectrum_decay=6.0, seed=1)
    return torch.from_numpy(src), torch.from_numpy(tgt), perm, torch.from_numpy(Q)


@pytest.fixture(scope="module")
def collapse(tmp_path_factory):
    """(src, tgt, gold dictionary + word maps, a 2-epoch history: epoch 1 collapsed, epoch 2
    the distorted true map)."""
    torch.set_num_threads(1)
    src, tgt, perm, Q = _pair()
    g = torch.Generator().manual_seed(0)
    u, v = src.mean(0), tgt.mean(0)
    W_collapsed = torch.outer(u / u.norm(), v / v.norm()) + 1e-3 * torch.randn(DIM, DIM, generator=g)
    W_distorted = Q @ torch.diag(torch.linspace(0.2, 1.8, DIM))
    hist = SeedHistory(seed=1, best_W=torch.eye(DIM))
    for W in (W_collapsed, W_distorted):
        crit, polar = score_epoch(src, tgt, W, crit_max_rank=0, backend="torch")
        hist.add_epoch(crit, W, 0.1, 0.0, polar_criterion=polar)
    tgt_words = [None] * N
    for i in range(N):
        tgt_words[perm[i]] = f"w{i}"
    d = tmp_path_factory.mktemp("collapse")
    (d / "dico.txt").write_text("".join(f"w{i} w{i}\n" for i in range(0, N, 2)), encoding="utf-8")
    words = ({w: i for i, w in enumerate(words_for(N, "w"))},
             {w: i for i, w in enumerate(tgt_words)}, load_dictionary(d / "dico.txt"))
    return src, tgt, words, hist, W_collapsed


def _grid_selection(collapse, rule, out):
    src, tgt, (src_w2i, tgt_w2i, dico), hist, _ = collapse
    grid = Grid(src, tgt, AdversarialConfig(), REF, [1], [2], [1, 3], out, src_w2i=src_w2i,
                tgt_w2i=tgt_w2i, dico=dico, backend="torch", progress=False, selection=rule)
    grid.branch(2, [hist])
    sel, _ = select(grid.records())
    return sel


def test_collapsed_map_is_selected_by_muse_only(collapse, tmp_path):
    _, _, _, hist, W_collapsed = collapse
    # MUSE's criterion prefers the collapse; the polar factors' criteria the true map
    assert hist.criterion[0] > hist.criterion[1] + 0.02
    assert hist.polar_criterion[1] > 0.99 > hist.polar_criterion[0] + 0.2
    assert hist.orthogonality[0]["sv_min"] < 1e-2 and hist.orthogonality[1]["sv_max"] > 1.7

    muse = _grid_selection(collapse, "muse", tmp_path / "muse")
    assert muse["selection_rule"] == "muse" and muse["selected_stage"] == "adv1"
    assert muse["flagged_nonorthogonal"] and muse["flagged_epochs"] == [1, 2]
    assert muse["orthogonality"]["sv_min"] < 1e-2  # the saved map is the collapse itself
    assert muse["csls_p@1"] < 5

    ortho = _grid_selection(collapse, "orthogonal", tmp_path / "ortho")
    assert ortho["selection_rule"] == "orthogonal" and ortho["best_adversarial_epoch"] == 2
    assert ortho["criterion"] > 0.99 and ortho["csls_p@1"] > 95
    o = ortho["orthogonality"]
    assert 0.99 < o["sv_min"] <= o["sv_max"] < 1.01 and o["fro_dev"] < 1e-3
    # the epoch it came from was far from orthogonal: flagged, with its numbers
    assert ortho["flagged_nonorthogonal"] and ortho["source_orthogonality"]["sv_max"] > 1.7
    # every configuration under the default rule keeps a map within [0.9, 1.1]
    for rec in Grid(collapse[0], collapse[1], AdversarialConfig(), REF, [1], [2], [1, 3],
                    tmp_path / "ortho", selection="orthogonal").records():
        assert not is_nonorthogonal(rec["orthogonality"]), rec

    # one run (xdomain-ubli align) selects alike
    src, tgt = collapse[0], collapse[1]
    W, fields = select_run(src, tgt, hist, 2, REF, rule="muse", backend="torch")
    assert fields["selected_epoch"] == 1 and fields["selected_refinement"] == 0
    assert torch.equal(W, W_collapsed)
    W, fields = select_run(src, tgt, hist, 2, REF, rule="orthogonal", backend="torch")
    assert fields["selected_epoch"] == 2 and fields["candidate"] == "adversarial"
    assert not is_nonorthogonal(orthogonality(W)) and fields["flagged_nonorthogonal"]


def test_orthogonality_numbers_of_a_hand_made_map():
    W = torch.diag(torch.tensor([2.0, 1.0, 1.0, 1.0]))
    o = orthogonality(W)
    # W^T W - I = diag(3, 0, 0, 0): Frobenius 3, / sqrt(4) = 1.5
    assert o == pytest.approx({"fro_dev": 1.5, "sv_min": 1.0, "sv_max": 2.0})
    assert is_nonorthogonal(o) and not is_nonorthogonal(orthogonality(torch.eye(4)))
    assert torch.allclose(nearest_orthogonal(W), torch.eye(4))
    R = torch.tensor([[0.0, -1.0], [1.0, 0.0]])
    # W^T W - I = -0.75 I: Frobenius 0.75 sqrt(2), / sqrt(2) = 0.75
    assert orthogonality(0.5 * R) == pytest.approx({"fro_dev": 0.75, "sv_min": 0.5,
                                                    "sv_max": 0.5})
    assert torch.allclose(nearest_orthogonal(0.5 * R), R)
    assert not is_nonorthogonal(orthogonality(torch.diag(torch.tensor([0.95, 1.05]))))


FLAGS = ["--seeds", "7", "--epochs", "1", "--refinements", "1,2", "--epoch-size", "320",
         "--dis-hid-dim", "16", "--dis-most-frequent", "0", "--dico-max-rank", "0",
         "--criterion-max-rank", "0", "--knn-backend", "torch", "--threads", "1",
         "--no-progress"]


def _grid(folder, out, *extra):
    args = add_grid_arguments(argparse.ArgumentParser()).parse_args(
        ["--src-emb", str(folder / "src.vec"), "--tgt-emb", str(folder / "tgt.vec"),
         "--dico-eval", str(folder / "dico.txt"), "--out", str(out), *FLAGS, *extra])
    return run_args(args)[0]


def test_identity_wins_on_a_joint_space(tmp_path, one_thread):
    src, _, _, _ = _pair()
    # one joint model: 500 words in both files with their one vector (in another frequency
    # order on the target side), 100 words of each side only
    words = words_for(N, "w")
    extra = torch.randn(100, DIM, generator=torch.Generator().manual_seed(2)) * src.std()
    tgt_rows = list(range(100, 500)) + list(range(100))
    save_vec(tmp_path / "src.vec", words, src.numpy())
    save_vec(tmp_path / "tgt.vec", [words[i] for i in tgt_rows] + words_for(100, "t"),
             torch.cat([src[tgt_rows], extra]).numpy())
    (tmp_path / "dico.txt").write_text("".join(f"w{i} w{i}\n" for i in range(0, 500, 2)),
                                       encoding="utf-8")
    joint = detect_joint_space(words, [words[i] for i in tgt_rows], src, src[tgt_rows])
    assert joint == {"joint": True, "n_shared": 500, "n_identical": 500, "share": 1.0}
    # adversarial training (from W = I, as MUSE) drives W away: 3 epochs at map lr 0.5
    summary = _grid(tmp_path, tmp_path / "grid", "--epochs", "3", "--epoch-size", "3200",
                    "--map-lr", "0.5")
    assert summary["config"]["identity"] and summary["config"]["joint_space"]["joint"]
    sel = summary["selected_record"]
    assert sel["candidate"] == "identity" and sel["seed"] is None and sel["epochs"] == 0
    assert sel["csls_p@1"] == 100.0 and not sel["flagged_nonorthogonal"]
    recs = summary["configurations"]
    assert [r["candidate"] for r in recs] == ["identity"] * 2 + ["adversarial"] * 2
    # identity is strictly the best candidate here (not a tie won by its place in the list)
    assert sel["criterion"] > max(r["criterion"] for r in recs[2:])
    assert (tmp_path / "grid" / "configs" / "identity_r2.json").is_file()


def test_no_identity_candidate_on_separate_spaces(tmp_path, one_thread):
    # same strings on both sides, but the target vectors are rotated: not one joint model
    write_pair(tmp_path, N, DIM, seed=3, dico_rows=range(0, 400, 2))
    summary = _grid(tmp_path, tmp_path / "grid", "--selection", "muse")
    joint = summary["config"]["joint_space"]
    assert not summary["config"]["identity"] and not joint["joint"]
    assert joint["n_shared"] == N and joint["share"] < 0.05
    recs = summary["configurations"]
    assert len(recs) == 2 and {r["candidate"] for r in recs} == {"adversarial"}
    assert {r["selection_rule"] for r in recs} == {"muse"}
    # --identity-candidate always adds it anyway (another folder: another configuration)
    summary = _grid(tmp_path, tmp_path / "grid2", "--identity-candidate", "always")
    assert [r["candidate"] for r in summary["configurations"]][:2] == ["identity"] * 2


def test_both_commands_take_the_selection_flags():
    for argv in (["align", "--src-emb", "a", "--tgt-emb", "b", "--out", "o"],
                 ["grid", "--src-emb", "a", "--tgt-emb", "b", "--out", "o"]):
        args = build_parser().parse_args(argv)
        assert (args.selection, args.identity_candidate) == ("orthogonal", "auto")
        args = build_parser().parse_args([*argv, "--selection", "muse",
                                          "--identity-candidate", "never"])
        assert (args.selection, args.identity_candidate) == ("muse", "never")


def test_align_records_rule_candidate_and_orthogonality(tmp_path, one_thread):
    import json

    from fairseq_xdomain.ubli.commands.cli import main

    s, t, d = write_pair(tmp_path, 400, DIM, seed=3, dico_rows=range(0, 300, 2))
    assert main(["align", "--src-emb", str(s), "--tgt-emb", str(t), "--dico-eval", str(d),
                 "--out", str(tmp_path / "out"), "--epochs", "2", "--epoch-size", "640",
                 "--dis-hid-dim", "16", "--refinement", "2", "--no-progress", "--threads", "1",
                 "--knn-backend", "torch", "--selection", "muse",
                 "--identity-candidate", "always"]) == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    sel, det = res["selected"], res["details"]
    assert sel["selection_rule"] == "muse" and sel["candidate"] in ("identity", "adversarial")
    assert set(sel["orthogonality"]) == {"fro_dev", "sv_min", "sv_max"}
    assert det["identity"]["criterion"] <= res["criterion"] + 1e-12
    assert (sel["candidate"] == "identity") == (det["identity"]["criterion"] == res["criterion"])
    assert len(det["adversarial_orthogonality"]) == len(det["criterion_per_epoch_polar"]) == 2

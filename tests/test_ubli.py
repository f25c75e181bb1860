"""UBLI engine: kNN/CSLS back ends, Procrustes, evaluation with coverage, batched seeds, CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run, write_lines

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.embeddings.vecio import save_vec
from fairseq_xdomain.ubli.adversarial import AdversarialConfig, BatchedAdversarial
from fairseq_xdomain.ubli.align import identical_pairs, supervised_procrustes
from fairseq_xdomain.ubli.csls import csls_topk, normalize, topk
from fairseq_xdomain.ubli.evaluation import copy_baseline, evaluate_translation, load_dictionary
from fairseq_xdomain.ubli.selection import mean_cosine_criterion
from fairseq_xdomain.ubli.synthetic_emb import make_pair

torch.set_num_threads(2)


@pytest.fixture(scope="module")
def pair():
    src, tgt, perm, q = make_pair(n=5000, dim=50, seed=0)
    return torch.from_numpy(src), torch.from_numpy(tgt), perm, q


def _csls_bruteforce(s, t, k=10):
    sim = s @ t.T
    r_s = sim.topk(k, dim=1).values.mean(1)
    r_t = sim.topk(k, dim=0).values.mean(0)
    return 2 * sim - r_s[:, None] - r_t[None, :]


def test_knn_backends_agree_with_bruteforce():
    g = torch.Generator().manual_seed(0)
    s = normalize(torch.randn(300, 20, generator=g))
    t = normalize(torch.randn(400, 20, generator=g))
    ref = (s @ t.T).topk(5, dim=1)
    for backend in ("torch", "faiss"):
        v, i = topk(s, t, 5, backend=backend)
        assert torch.equal(i, ref.indices), backend
        torch.testing.assert_close(v, ref.values, rtol=1e-5, atol=1e-5)
    # tiled torch search with blocks smaller than the data
    from fairseq_xdomain.ubli.csls import topk_torch

    v, i = topk_torch(s, t, 5, q_block=64, k_block=50)
    assert torch.equal(i, ref.indices)
    csls = _csls_bruteforce(s, t)
    for backend in ("torch", "faiss"):
        v, i = csls_topk(s, t, topn=3, backend=backend)
        ref_c = csls.topk(3, dim=1)
        assert torch.equal(i, ref_c.indices), backend
        torch.testing.assert_close(v, ref_c.values, rtol=1e-4, atol=1e-4)


def _dico_file(path, words_src, words_tgt, pairs, extra=()):
    return write_lines(path, [f"{words_src[a]} {words_tgt[b]}" for a, b in pairs] + list(extra))


def test_supervised_procrustes_identity_seed(pair, tmp_path):
    src, tgt, perm, _ = pair
    src_words = [f"w{i}" for i in range(len(src))]
    tgt_words = [""] * len(tgt)
    for i, j in enumerate(perm):
        tgt_words[j] = f"w{i}"  # the true translation has the identical string
    seed = identical_pairs(src_words, tgt_words)
    assert len(seed) == 5000
    W = supervised_procrustes(src, tgt, seed)
    torch.testing.assert_close(W @ W.T, torch.eye(50), atol=1e-4, rtol=0)
    dico = load_dictionary(_dico_file(tmp_path / "d.txt", src_words, tgt_words,
                                      [(i, perm[i]) for i in range(1000, 2500)]))
    ev = evaluate_translation(src @ W, tgt, src_words, tgt_words, dico)
    assert ev["coverage"] == 1.0 and ev["n_covered"] == 1500
    assert ev["csls_p@1"] >= 99.0 and ev["nn_p@1"] >= 99.0, ev
    # the criterion prefers the true map to the identity
    assert mean_cosine_criterion(src @ W, tgt) > mean_cosine_criterion(src, tgt) + 0.3


def test_evaluation_coverage_and_copy_baseline(tmp_path):
    src_words, tgt_words = ["a", "b", "c", "d"], ["a", "x", "y", "d"]
    emb = torch.eye(4)
    path = write_lines(tmp_path / "d.txt", ["a a", "b x", "b y", "c zz", "q a", "d dd", "bad line x"])
    dico = load_dictionary(path)
    assert dico.n_bad_lines == 1 and len(dico.gold) == 5
    ev = evaluate_translation(emb, emb, src_words, tgt_words, dico)
    # covered: a (a), b (x or y), d? no (dd OOV) -> 2 of 5 source words
    assert ev["n_covered"] == 2 and ev["coverage"] == pytest.approx(0.4)
    assert ev["n_pairs_oov"] == 3  # c-zz, q-a, d-dd
    assert ev["nn_p@1"] == pytest.approx(100.0 * 2 / 2)  # a->a, b->x(id 1)
    assert ev["nn_p@1_all"] == pytest.approx(100.0 * 2 / 5)
    cb = copy_baseline(dico, src_words, tgt_words)
    assert cb["copy_p@1"] == pytest.approx(50.0)  # a correct, b not (of the 2 covered)
    assert cb["copy_p@1_all"] == pytest.approx(20.0)
    none = load_dictionary(write_lines(tmp_path / "n.txt", ["zz yy"]))
    with pytest.raises(UserError, match="no dictionary pair is covered"):
        evaluate_translation(emb, emb, src_words, tgt_words, none)


def test_batched_seeds_follow_the_single_seed_streams():
    g = torch.Generator().manual_seed(0)
    src, tgt = torch.randn(300, 16, generator=g), torch.randn(300, 16, generator=g)
    cfg = AdversarialConfig(dis_hid_dim=64, batch_size=8)
    both = BatchedAdversarial(src, tgt, [7, 11], cfg)
    alone = BatchedAdversarial(src, tgt, [11], cfg)
    for _ in range(4):
        both.iteration()
        alone.iteration()
    assert torch.equal(both.W[1], alone.W[0])
    assert torch.equal(both.layers[1][0][1], alone.layers[1][0][0])
    assert not torch.equal(both.W[0], both.W[1])
    W = both.W[0]
    assert (W @ W.T - torch.eye(16)).abs().max() < 0.05  # stays close to orthogonal


def test_manual_backward_matches_autograd():
    """The hand-written discriminator/mapping gradients equal autograd's."""
    g = torch.Generator().manual_seed(1)
    src, tgt = torch.randn(100, 8, generator=g), torch.randn(100, 8, generator=g)
    cfg = AdversarialConfig(dis_hid_dim=16, dis_input_dropout=0.0, map_beta=0.0, batch_size=16)
    m = BatchedAdversarial(src, tgt, [3], cfg)
    state = m.gens[0].get_state()
    W = m.W.clone().requires_grad_()
    layers = [(w.clone().requires_grad_(), b.clone().requires_grad_()) for w, b in m.layers]
    m.map_step()
    m.gens[0].set_state(state)
    ids = torch.randint(0, 100, (16,), generator=m.gens[0])
    from fairseq_xdomain.ubli.adversarial import discriminator_logits

    logits = discriminator_logits(layers, src[ids][None] @ W)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.full_like(logits, 0.1), reduction="sum") / 32
    loss.backward()
    torch.testing.assert_close(m.W, W.detach() - 0.1 * W.grad, rtol=1e-5, atol=1e-7)


def _write_pair(tmp_path, n=600, dim=16):
    src, tgt, perm, _ = make_pair(n=n, dim=dim, seed=3)
    sw = [f"s{i}" for i in range(n)]
    tw = [f"t{j}" for j in range(n)]
    for i in range(0, n, 10):  # a few identical strings (numbers, names)
        tw[perm[i]] = sw[i]
    save_vec(tmp_path / "src.vec", sw, src)
    save_vec(tmp_path / "tgt.vec", tw, tgt)
    _dico_file(tmp_path / "dico.txt", sw, tw, [(i, perm[i]) for i in range(100, 300)],
               extra=["oovword t1"])
    return tmp_path / "src.vec", tmp_path / "tgt.vec", tmp_path / "dico.txt"


SMALL = ["--epochs", "2", "--epoch-size", "1600", "--dis-hid-dim", "64", "--refinement", "2",
         "--no-progress", "--threads", "2", "--knn-backend", "torch"]


def test_align_cli_same_seed_same_results(tmp_path):
    s, t, d = _write_pair(tmp_path)
    outs = []
    for name in ("a", "b"):
        run(["xdomain-ubli", "align", "--src-emb", s, "--tgt-emb", t, "--dico-eval", d,
             "--out", tmp_path / name, "--seed", "5", *SMALL])
        outs.append(json.loads((tmp_path / name / "results.json").read_text()))
    a, b = outs
    assert np.array_equal(np.load(tmp_path / "a/W.npy"), np.load(tmp_path / "b/W.npy"))
    assert a["details"]["criterion_per_epoch"] == b["details"]["criterion_per_epoch"]
    assert len(a["details"]["criterion_per_epoch"]) == 2
    assert a["metrics"] == b["metrics"] and a["p_at_1"] == a["metrics"]["csls_p@1"]
    # dis-most-frequent / dico ranks larger than the vocabulary were shrunk, not crashed
    assert a["config"]["adversarial"]["dis_most_frequent"] == 600
    assert a["config"]["refinement"]["dico_max_rank"] == 600
    assert a["metrics"]["n_covered"] == 200 and a["metrics"]["n_source_words"] == 201
    assert a["selected"]["epoch"] in (1, 2) and a["config"]["seed"] == 5
    assert (tmp_path / "a/src.mapped.vec").exists() and (tmp_path / "a/results.md").exists()
    assert (tmp_path / "a/checkpoint.pt").exists()


def test_baselines_cli(tmp_path):
    s, t, d = _write_pair(tmp_path)
    out = run(["xdomain-ubli", "baseline", "--method", "copy", "--src-emb", s, "--tgt-emb", t,
               "--dico-eval", d, "--out", tmp_path / "o"])
    cb = json.loads((tmp_path / "o/baseline_copy.json").read_text())["metrics"]
    assert cb["copy_p@1"] == pytest.approx(100.0 * 20 / 200)  # every 10th word is identical
    assert "coverage" in out.stdout
    run(["xdomain-ubli", "baseline", "--method", "identical", "--src-emb", s, "--tgt-emb", t,
         "--dico-eval", d, "--out", tmp_path / "o", "--refinement", "3", "--no-progress"])
    res = json.loads((tmp_path / "o/baseline_identical.json").read_text())
    assert res["details"]["n_seed_pairs"] == 60
    assert res["metrics"]["csls_p@1"] >= 95.0, res["metrics"]
    assert res["selected"]["refinement"] in (0, 1, 2, 3) and len(res["details"]["refinement"]) == 3


@pytest.mark.parametrize("case,message", [
    ("dims", "dimension 8 does not match the source embeddings"),
    ("dico", "no dictionary pair is covered"),
])
def test_align_cli_bad_input(tmp_path, case, message):
    s, t, d = _write_pair(tmp_path)
    if case == "dims":
        save_vec(tmp_path / "t8.vec", ["a", "b"], np.ones((2, 8)))
        t = tmp_path / "t8.vec"
    else:
        d = write_lines(tmp_path / "none.txt", ["foo bar"])
    proc = run(["xdomain-ubli", "align", "--src-emb", s, "--tgt-emb", t, "--dico-eval", d,
                "--out", tmp_path / "o", *SMALL], check=False)
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last and "Traceback" not in proc.stderr


def test_dis_and_map_steps_match_an_independent_muse_style_autograd_loop():
    """A plain nn.Module + torch.optim.SGD loop written as MUSE's: the discriminator step (source
    labelled 1 - smooth, target smooth), then the mapping step with flipped labels (mapped source
    labelled as target) and the orthogonality update on nn.Linear's weight. Starting from a
    non-identity W, the batched hand-written steps give the same discriminator weights and W."""
    nn = torch.nn
    g = torch.Generator().manual_seed(1)
    d, hid, bs, beta = 8, 16, 16, 0.001
    src, tgt = 3 * torch.randn(100, d, generator=g), 3 * torch.randn(100, d, generator=g)
    cfg = AdversarialConfig(dis_hid_dim=hid, dis_input_dropout=0.0, map_beta=beta, batch_size=bs)
    m = BatchedAdversarial(src, tgt, [3], cfg)
    m.W[0] = torch.linalg.qr(torch.randn(d, d, generator=g))[0] * 1.05
    mapping = nn.Linear(d, d, bias=False)  # MUSE's map: y = x @ weight.T, so weight = W.T
    dis = nn.Sequential(nn.Linear(d, hid), nn.LeakyReLU(0.2), nn.Linear(hid, hid),
                        nn.LeakyReLU(0.2), nn.Linear(hid, 1), nn.Sigmoid())
    linears = [dis[0], dis[2], dis[4]]
    with torch.no_grad():
        mapping.weight.copy_(m.W[0].T)
        for lin, (w, b) in zip(linears, m.layers):
            lin.weight.copy_(w[0].T)
            lin.bias.copy_(b[0, 0])
    map_opt = torch.optim.SGD(mapping.parameters(), lr=0.1)
    dis_opt = torch.optim.SGD(dis.parameters(), lr=0.1)
    y = torch.cat([torch.full((bs,), 0.9), torch.full((bs,), 0.1)])
    bce = nn.functional.binary_cross_entropy
    W_before = m.W[0].clone()
    for _ in range(2):
        state = m.gens[0].get_state()
        m.dis_step()
        m.gens[0].set_state(state)
        sid = torch.randint(0, 100, (bs,), generator=m.gens[0])
        tid = torch.randint(0, 100, (bs,), generator=m.gens[0])
        x = torch.cat([mapping(src[sid]), tgt[tid]]).detach()
        dis_opt.zero_grad()
        bce(dis(x).squeeze(1), y).backward()
        dis_opt.step()
        state = m.gens[0].get_state()
        m.map_step()
        m.gens[0].set_state(state)
        sid = torch.randint(0, 100, (bs,), generator=m.gens[0])
        x = torch.cat([mapping(src[sid]), tgt[tid]])
        map_opt.zero_grad()
        bce(dis(x).squeeze(1), 1 - y).backward()  # flipped labels: fool the discriminator
        map_opt.step()
        with torch.no_grad():
            w = mapping.weight
            w.copy_((1 + beta) * w - beta * w.mm(w.T.mm(w)))
    for lin, (w, _) in zip(linears, m.layers):
        torch.testing.assert_close(w[0], lin.weight.detach().T, rtol=1e-4, atol=1e-6)
    ref = mapping.weight.detach().T
    assert (ref - W_before).norm() > 1e-4  # the steps did move W
    torch.testing.assert_close(m.W[0], ref, rtol=1e-4, atol=1e-6)



# --------------------------------------------------------------------------- issue 13, case 04:
# --dico-build S2T&T2S / S2T|T2S, and an empty or tiny induced dictionary


def _case04_files(root):
    """The case's inputs: 40 words, random 5-d vectors; the same space as target, and a
    collapsed source space (every vector equal: S2T&T2S finds at most one mutual pair)."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    save_vec(root / "tgt.vec", words, rng.normal(size=(40, 5)).astype(np.float32))
    save_vec(root / "collapsed.vec", words,
             np.tile(rng.normal(size=(1, 5)), (40, 1)).astype(np.float32))
    write_lines(root / "dico.txt", [f"w{i} w{i}" for i in range(0, 40, 2)])
    return root


def test_build_dictionary_intersection_and_union():
    from fairseq_xdomain.ubli.dictionary import build_dictionary, combine_pairs

    s2t = torch.tensor([[0, 1], [1, 1], [2, 0]])
    t2s = torch.tensor([[1, 1], [0, 2], [2, 0]])
    assert combine_pairs(s2t, t2s, "S2T&T2S").tolist() == [[1, 1], [2, 0]]
    assert combine_pairs(s2t, t2s, "S2T|T2S").tolist() == [[0, 1], [1, 1], [2, 0], [0, 2]]
    assert combine_pairs(s2t, t2s[:0], "S2T&T2S").shape == (0, 2)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 6, generator=g)
    for build in ("S2T", "T2S", "S2T&T2S", "S2T|T2S"):
        pairs = build_dictionary(x, x, build, max_rank=0, backend="torch")
        assert pairs.dtype == torch.long and pairs.tolist() == [[i, i] for i in range(30)] \
            or sorted(pairs.tolist()) == [[i, i] for i in range(30)], build
    y = torch.randn(30, 6, generator=g)
    s2t = {tuple(p) for p in build_dictionary(x, y, "S2T", max_rank=0).tolist()}
    t2s = {tuple(p) for p in build_dictionary(x, y, "T2S", max_rank=0).tolist()}
    both = {tuple(p) for p in build_dictionary(x, y, "S2T&T2S", max_rank=0).tolist()}
    either = {tuple(p) for p in build_dictionary(x, y, "S2T|T2S", max_rank=0).tolist()}
    assert both == s2t & t2s and either == s2t | t2s


@pytest.mark.parametrize("build", ["S2T&T2S", "S2T|T2S"])
def test_case04_self_refinement_every_build(tmp_path, build):
    from fairseq_xdomain.ubli.commands.cli import main

    d = _case04_files(tmp_path)
    assert main([str(a) for a in (
        "baseline", "--method", "identical", "--src-emb", d / "tgt.vec", "--tgt-emb",
        d / "tgt.vec", "--dico-eval", d / "dico.txt", "--out", d / "out", "--dico-build", build,
        "--refinement", "2", "--no-progress", "--threads", "1")]) == 0
    res = json.loads((d / "out/baseline_identical.json").read_text())
    assert res["metrics"]["csls_p@1"] == 100.0
    assert res["config"]["refinement"]["dico_build"] == build
    assert [r["n_pairs"] for r in res["details"]["refinement"]] == [40, 40]


def test_case04_tiny_induced_dictionary_keeps_the_map(tmp_path, caplog):
    from fairseq_xdomain.ubli.commands.cli import main

    d = _case04_files(tmp_path)
    with caplog.at_level("WARNING"):
        assert main([str(a) for a in (
            "baseline", "--method", "identical", "--src-emb", d / "collapsed.vec", "--tgt-emb",
            d / "tgt.vec", "--dico-eval", d / "dico.txt", "--out", d / "out", "--dico-build",
            "S2T&T2S", "--refinement", "3", "--no-progress", "--threads", "1")]) == 0
    res = json.loads((d / "out/baseline_identical.json").read_text())
    assert res["details"]["refinement"] == [] and res["selected"]["refinement"] == 0
    assert res["criterion"] == res["details"]["procrustes_criterion"]
    warn = [r.getMessage() for r in caplog.records if "induced dictionary" in r.getMessage()]
    assert len(warn) == 1 and "has 1 pairs" in warn[0] and "S2T&T2S" in warn[0], warn
    # the kept map is the pre-refinement (identical-strings Procrustes) one
    W = np.load(d / "out/W.npy")
    from fairseq_xdomain.embeddings.vecio import load_vec

    src, tgt = load_vec(d / "collapsed.vec"), load_vec(d / "tgt.vec")
    W0 = supervised_procrustes(torch.from_numpy(src.vectors), torch.from_numpy(tgt.vectors),
                               identical_pairs(src.words, tgt.words))
    np.testing.assert_allclose(W, W0.numpy(), atol=1e-6)


def test_case04_align_with_intersection_build_finishes(tmp_path):
    """Before: TypeError after the adversarial epochs, only checkpoint.pt left behind."""
    d = _case04_files(tmp_path)
    proc = run(["xdomain-ubli", "align", "--src-emb", d / "tgt.vec", "--tgt-emb", d / "tgt.vec",
                "--out", d / "out", "--epochs", "1", "--epoch-size", "64", "--dis-hid-dim", "16",
                "--dico-build", "S2T&T2S", "--refinement", "1", "--no-progress", "--threads", "1",
                "--cpu"], env={"OMP_NUM_THREADS": "1"})
    assert proc.stdout.startswith("criterion 1.0000"), proc.stdout
    assert {"results.json", "W.npy", "src.mapped.vec"} <= {p.name for p in (d / "out").iterdir()}
    res = json.loads((d / "out/results.json").read_text())
    assert res["config"]["refinement"]["dico_build"] == "S2T&T2S"


@pytest.mark.parametrize("flags, message", [
    (["--csls-k", "0"], "--csls-k 0: must be >= 1"),
    (["--dico-max-rank", "-5"], "--dico-max-rank -5: must be >= 0"),
    (["--batch-size", "0"], "--batch-size 0: must be >= 1"),
    (["--dis-input-dropout", "1"], "--dis-input-dropout 1.0: must be in [0, 1)"),
    (["--dis-smooth", "0.5"], "--dis-smooth 0.5: must be in [0, 0.5)"),
])
def test_option_values_checked_before_any_work(tmp_path, capsys, flags, message):
    """Values that used to fail only after training (or silently misbehave) are refused before
    any file is read: the embedding files here do not even exist."""
    from fairseq_xdomain.ubli.commands.cli import main

    missing = str(tmp_path / "none.vec")
    for argv in (["align", "--out", str(tmp_path / "a")], ["grid", "--out", str(tmp_path / "g")]):
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--src-emb", missing, "--tgt-emb", missing, *flags])
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {message}") and "\n" not in err, (argv, err)
    assert not (tmp_path / "a").exists() and not (tmp_path / "g").exists()


def test_help_lists_every_subcommand(capsys):
    """``xdomain-ubli --help`` names the grid next to align and baseline."""
    from fairseq_xdomain.ubli.commands.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "{align,baseline,grid" in out and "the paper's grid search" in out
    assert "evaluate" in out  # issue 16: xdomain-ubli evaluate


def test_faiss_loader_messages_stay_out_of_the_log():
    """faiss's loader logs every CPU build it cannot load at INFO (``ModuleNotFoundError ...
    swigfaiss_avx512``); a user's INFO log must not show them (issue 16, point 7)."""
    import subprocess
    import sys

    code = ("import logging; logging.basicConfig(level=logging.INFO); "
            "from fairseq_xdomain.ubli.csls import resolve_backend; print(resolve_backend('auto'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "faiss"
    assert "swigfaiss" not in proc.stderr and "faiss.loader" not in proc.stderr, proc.stderr

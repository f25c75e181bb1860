"""The one mapping loader (embeddings/mapping_io.py) through the real console tools: a map saved
exactly as MUSE saves ``best_mapping.pth`` (``torch.save`` of the numpy weight of its linear map,
applied as ``W x``) gives the right P@1 with ``--mapping-format muse``, a one-line error without
it, and the wrong one read the other way; ``xdomain-wordsim`` agrees (``--mapping-transpose`` is
the older spelling of ``--mapping-format muse``)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run, write_lines

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.embeddings.mapping_io import load_mapping
from fairseq_xdomain.embeddings.vecio import save_vec

N, D = 300, 16


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Source vectors X, target vectors X @ R (R orthogonal, not symmetric): the map in our
    convention is R (x @ R); MUSE's weight is R.T (W x = R.T x)."""
    root = tmp_path_factory.mktemp("mapio")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D)).astype(np.float32)
    R = np.linalg.qr(rng.standard_normal((D, D)))[0].astype(np.float32)
    assert not np.allclose(R, R.T, atol=1e-3)
    save_vec(root / "src.vec", [f"s{i}" for i in range(N)], X)
    save_vec(root / "tgt.vec", [f"t{i}" for i in range(N)], X @ R)
    write_lines(root / "dico.txt", [f"s{i} t{i}" for i in range(100)])
    write_lines(root / "pairs.txt", [f"s{i}\tt{j}\t{4.0 if i == j else 0.0}"
                                     for i in range(40) for j in (i, (i + 7) % N)])
    np.save(root / "W.npy", R)
    torch.save(R.T.copy(), root / "best_mapping.pth")  # exactly MUSE's trainer.export/save_best
    torch.save(torch.from_numpy(R), root / "W.pt")     # our align's W.pt: a tensor, x @ W
    return root


def _evaluate(pair, *extra, check=True):
    return run(["xdomain-ubli", "evaluate", "--src-emb", pair / "src.vec", "--tgt-emb",
                pair / "tgt.vec", "--dico-eval", pair / "dico.txt", "--knn-backend", "torch",
                "--cpu", *extra], check=check)


def _p_at_1(proc) -> float:
    line = proc.stdout.strip().splitlines()[-1]
    return float(line.split("csls_p@1 ")[1].split(",")[0])


def test_muse_best_mapping_gives_the_right_p_at_1(pair):
    assert _p_at_1(_evaluate(pair, "--mapping", pair / "best_mapping.pth",
                             "--mapping-format", "muse")) == 100.0
    # read in our convention, MUSE's matrix is the inverse map: far from right
    assert _p_at_1(_evaluate(pair, "--mapping", pair / "best_mapping.pth",
                             "--mapping-format", "ours")) < 50.0
    # our own files (.npy, W.pt holding a tensor: MUSE writes neither) need no option
    assert _p_at_1(_evaluate(pair, "--mapping", pair / "W.npy")) == 100.0
    assert _p_at_1(_evaluate(pair, "--mapping", pair / "W.pt")) == 100.0
    assert _p_at_1(_evaluate(pair, "--mapping", pair / "W.pt", "--mapping-format", "ours")) == 100.0


def test_square_torch_file_without_convention_is_one_line_error(pair):
    proc = _evaluate(pair, "--mapping", pair / "best_mapping.pth", check=False)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and errors[0].startswith("error: ")  # the rest: INFO log lines
    assert "best_mapping.pth" in errors[0] and "--mapping-format muse" in errors[0]
    assert "Traceback" not in proc.stderr


def test_loader_rule_and_shape_errors(pair, tmp_path):
    R = np.load(pair / "W.npy")
    np.testing.assert_array_equal(load_mapping(pair / "best_mapping.pth", D, "muse"), R)
    np.testing.assert_array_equal(load_mapping(pair / "W.npy", D), R)
    np.testing.assert_array_equal(load_mapping(pair / "W.pt", D), R)  # a tensor: ours
    with pytest.raises(UserError, match="pass --mapping-format"):
        load_mapping(pair / "best_mapping.pth", D)  # a numpy array in a torch file: MUSE's way
    with pytest.raises(UserError, match=r"expected \(8, 8\)"):
        load_mapping(pair / "W.npy", 8, "ours")
    np.save(tmp_path / "bad.npy", np.full((D, D), np.nan, dtype=np.float32))
    with pytest.raises(UserError, match="non-finite"):
        load_mapping(tmp_path / "bad.npy", D)
    (tmp_path / "text.pth").write_text("not a torch file\n")
    with pytest.raises(UserError, match="not a torch file"):
        load_mapping(tmp_path / "text.pth", D, "muse")


def test_wordsim_reads_the_same_mapping(pair, tmp_path):
    def score(*extra):
        out = tmp_path / "r.json"
        run(["xdomain-wordsim", "--src-emb", pair / "src.vec", "--tgt-emb", pair / "tgt.vec",
             "--pairs", pair / "pairs.txt", "--json", out, *extra])
        return json.loads(out.read_text())

    muse = score("--mapping", pair / "best_mapping.pth", "--mapping-format", "muse")
    old = score("--mapping", pair / "best_mapping.pth", "--mapping-transpose")
    ours = score("--mapping", pair / "W.npy")
    wrong = score("--mapping", pair / "best_mapping.pth", "--mapping-format", "ours")
    assert muse["pearson"] == pytest.approx(ours["pearson"], abs=1e-6) and muse["pearson"] > 0.9
    assert wrong["pearson"] < 0.5
    assert old["pearson"] == muse["pearson"]
    assert muse["details"]["mapping_applied_as"] == "x @ W.T"
    assert ours["details"]["mapping_applied_as"] == "x @ W"

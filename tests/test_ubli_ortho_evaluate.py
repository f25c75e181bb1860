"""Issue 16 points 4, 6, 7: non-identical P@1 and self-translation share in every evaluation,
the orthographic (character n-gram) baseline, and ``xdomain-ubli evaluate``."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import write_lines

from fairseq_xdomain.embeddings.vecio import save_vec
from fairseq_xdomain.ubli.commands.cli import main
from fairseq_xdomain.ubli.evaluation import copy_baseline, evaluate_translation, load_dictionary
from fairseq_xdomain.ubli.orthography import char_ngrams, ortho_baseline, ortho_topk
from fairseq_xdomain.ubli.synthetic_emb import make_pair, write_pair

torch.set_num_threads(1)


def test_nonident_and_self_top1_on_a_hand_made_case(tmp_path):
    """4 covered queries, NN top-1 by construction: hotel->hotel (right, self), dog->hund
    (right), cat->hund (wrong), die->die (wrong, self; gold 'sterben')."""
    e = np.eye(5, dtype=np.float32)
    src_words = ["hotel", "dog", "cat", "die"]
    src = torch.from_numpy(np.stack([e[0], e[1], np.array([0, 1, .5, 0, 0], np.float32), e[3]]))
    tgt_words = ["hotel", "hund", "katze", "die", "sterben"]
    tgt = torch.from_numpy(e)
    dico = load_dictionary(write_lines(tmp_path / "d.txt", [
        "hotel hotel", "dog hund", "cat katze", "die sterben", "absent nothing"]))
    ev = evaluate_translation(src, tgt, src_words, tgt_words, dico, k_csls=2)
    assert ev["nn_p@1"] == 50.0 and ev["n_covered"] == 4 and ev["coverage"] == 0.8
    assert ev["n_nonident"] == 3
    assert ev["nn_p@1_nonident"] == pytest.approx(100 / 3)
    assert ev["nn_self_top1"] == 0.5
    # CSLS gives the same top-1 here (hubness does not move these); keys are per method
    assert ev["csls_p@1_nonident"] == pytest.approx(100 / 3) and ev["csls_self_top1"] == 0.5
    cb = copy_baseline(dico, src_words, tgt_words)
    assert cb["copy_p@1"] == 25.0  # unchanged fields (additive work)


def test_a_word_with_an_identical_translation_is_not_a_nonident_query(tmp_path):
    e = np.eye(3, dtype=np.float32)
    dico = load_dictionary(write_lines(tmp_path / "d.txt", ["bank bank", "bank ufer", "a b"]))
    ev = evaluate_translation(torch.from_numpy(e[:2]), torch.from_numpy(e),
                              ["bank", "a"], ["ufer", "bank", "b"], dico, methods=("nn",))
    assert ev["nn_p@1"] == 50.0  # bank (e0) -> ufer: right; a (e1) -> bank: wrong
    assert ev["n_nonident"] == 1  # only 'a'
    assert ev["nn_p@1_nonident"] == 0.0
    assert ev["nn_self_top1"] == 0.0


def test_char_ngrams_and_hand_checked_similarities():
    assert sorted(char_ngrams("dog")) == sorted(
        ["d", "o", "g", "^d", "do", "og", "g$", "^do", "dog", "og$"])
    assert char_ngrams("color")["o"] == 2
    scores, rows = ortho_topk(["colour", "centre", "dog"], ["color", "center", "hund", "cat"], k=4)
    # colour/color: dot 7 (unigrams) + 5 (bigrams) + 3 (trigrams) = 15, norms^2 21 and 18
    assert rows[0, 0] == 0 and scores[0, 0] == pytest.approx(15 / math.sqrt(21 * 18), abs=1e-6)
    # centre/center: 8 + 4 + 3 = 15, norms^2 21 and 21
    assert rows[1, 0] == 1 and scores[1, 0] == pytest.approx(15 / 21, abs=1e-6)
    # dog: color shares 'o' (count 1 x 2) -> 2/sqrt(10*18); hund shares 'd' -> 1/sqrt(10*13);
    # cat and center share nothing (tie at 0: the more frequent, center, first)
    assert rows[2].tolist() == [0, 2, 1, 3]
    assert scores[2, :2] == pytest.approx([2 / math.sqrt(180), 1 / math.sqrt(130)], abs=1e-6)


def test_ortho_baseline_scores(tmp_path):
    dico = load_dictionary(write_lines(tmp_path / "d.txt", [
        "colour color", "centre center", "dog hund", "hotel hotel", "oov x"]))
    res = ortho_baseline(dico, ["colour", "centre", "dog", "hotel"],
                         ["color", "center", "hund", "cat", "hotel"])
    assert res["n_covered"] == 4 and res["coverage"] == 0.8
    assert res["ortho_p@1"] == 75.0 and res["ortho_p@1_all"] == 60.0
    assert res["n_nonident"] == 3 and res["ortho_p@1_nonident"] == pytest.approx(200 / 3)
    assert res["ortho_self_top1"] == 0.25  # hotel -> hotel
    assert res["ortho_p@5"] == 100.0  # dog: hund is 2nd


def test_ortho_baseline_cli(tmp_path, capsys):
    src_w, tgt_w = ["colour", "centre", "dog"], ["color", "center", "hund", "cat"]
    rng = np.random.default_rng(0)
    save_vec(tmp_path / "s.vec", src_w, rng.standard_normal((3, 4)).astype(np.float32))
    save_vec(tmp_path / "t.vec", tgt_w, rng.standard_normal((4, 4)).astype(np.float32))
    write_lines(tmp_path / "d.txt", ["colour color", "centre center", "dog hund"])
    out = tmp_path / "o"
    main(["baseline", "--method", "ortho", "--src-emb", str(tmp_path / "s.vec"), "--tgt-emb",
          str(tmp_path / "t.vec"), "--dico-eval", str(tmp_path / "d.txt"), "--out", str(out),
          "--pair", "en-de"])
    line = capsys.readouterr().out.strip()
    assert line.startswith("ortho_p@1 66.67") and "ortho_p@1_nonident 66.67" in line
    rec = json.loads((out / "baseline_ortho.json").read_text())
    assert rec["method"] == "ortho" and rec["pair"] == "en-de"
    assert rec["metrics"]["ortho_p@1"] == rec["p_at_1"] == pytest.approx(200 / 3)
    assert "ortho_p@1" in (out / "baseline_ortho.md").read_text()


@pytest.fixture(scope="module")
def rotated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rot")
    n, dim, seed, noise = 1000, 16, 3, 0.05
    s, t, d = write_pair(folder, n=n, dim=dim, seed=seed, noise=noise, dico_rows=range(300))
    Q = make_pair(n=n, dim=dim, seed=seed, noise=noise)[3]
    np.save(folder / "W.npy", Q)
    np.save(folder / "bad.npy", np.eye(dim + 1, dtype=np.float32))
    return folder, s, t, d


def test_evaluate_true_map_identity_and_bad_shape(rotated, capsys):
    folder, s, t, d = rotated
    base = ["evaluate", "--src-emb", str(s), "--tgt-emb", str(t), "--dico-eval", str(d)]
    main([*base, "--mapping", str(folder / "W.npy"), "--out", str(folder / "ev")])
    line = capsys.readouterr().out.strip()
    assert "csls_p@1 100.00" in line and "criterion" in line and "\n" not in line
    rec = json.loads((folder / "ev" / "results.json").read_text())
    ev = rec["metrics"]
    assert ev["csls_p@1"] == 100.0 and ev["nn_p@1"] == 100.0 and ev["coverage"] == 1.0
    assert ev["n_nonident"] == 0 and ev["csls_self_top1"] == 1.0  # gold pairs w_i -> w_i
    assert rec["config"]["mapping"] == str(folder / "W.npy") and rec["config"]["command"] == "evaluate"
    assert "csls_p@1_nonident" in (folder / "ev" / "results.md").read_text()

    res = main([*base])  # identity: the rotation is not undone
    line = capsys.readouterr().out.strip()
    p1 = float(line.split("csls_p@1 ")[1].split(",")[0])
    assert res == 0 and p1 < 5.0

    with pytest.raises(SystemExit) as exc:
        main([*base, "--mapping", str(folder / "bad.npy")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and "\n" not in err
    assert err.startswith(f"error: {folder / 'bad.npy'}: mapping of shape (17, 17)")

"""``--lowercase`` (MUSE's lowercasing of embedding words at load) and the warning with counts
when a dictionary's coverage is lost only to case: a cased ``.vec`` (``Paris``) against a
lowercase dictionary (``paris``) warns and covers part of it; with ``--lowercase`` it covers all
of it, and of colliding words the first (most frequent) keeps its vector."""
from __future__ import annotations

import json

import numpy as np
from conftest import run, write_lines

from fairseq_xdomain.embeddings.case import case_only_misses, lowercase_vectors
from fairseq_xdomain.embeddings.vecio import WordVectors, save_vec

N, D = 200, 12


def test_collision_rule_first_most_frequent_wins():
    vecs = np.arange(4 * 2, dtype=np.float32).reshape(4, 2)
    wv = WordVectors(["The", "the", "Paris", "THE"], vecs)
    low, dropped = lowercase_vectors(wv)
    assert low.words == ["the", "paris"] and dropped == 2
    np.testing.assert_array_equal(low.vectors, vecs[[0, 2]])  # "The" (row 0) wins over "the"
    assert low.word2id == {"the": 0, "paris": 1}
    assert case_only_misses(["the", "paris", "rome", "Paris"], {"The": 0, "Paris": 1}) == 2


def test_cased_vec_with_lowercase_dictionary(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((N, D)).astype(np.float32)
    # every third source word is capitalised in the .vec; the dictionary is lowercase
    src_words = [f"w{i}".capitalize() if i % 3 == 0 else f"w{i}" for i in range(N)]
    save_vec(tmp_path / "src.vec", src_words, X)
    save_vec(tmp_path / "tgt.vec", [f"t{i}" for i in range(N)], X)
    write_lines(tmp_path / "dico.txt", [f"w{i} t{i}" for i in range(90)])
    base = ["xdomain-ubli", "evaluate", "--src-emb", tmp_path / "src.vec", "--tgt-emb",
            tmp_path / "tgt.vec", "--dico-eval", tmp_path / "dico.txt", "--knn-backend", "torch",
            "--cpu"]

    cased = run([*base, "--out", tmp_path / "cased"])
    assert "30 of 90 source words and 0 of 90 target words are missing from the embeddings " \
           "only because of case" in cased.stderr
    assert "--lowercase" in cased.stderr
    rec = json.loads((tmp_path / "cased" / "results.json").read_text())
    assert rec["metrics"]["coverage"] == 60 / 90

    lowered = run([*base, "--lowercase", "--out", tmp_path / "lower"])
    assert "only because of case" not in lowered.stderr
    rec = json.loads((tmp_path / "lower" / "results.json").read_text())
    assert rec["metrics"]["coverage"] == 1.0 and rec["p_at_1"] == 100.0

    # MUSE's own option name works too
    run([*base[:2], "--src_emb", tmp_path / "src.vec", "--tgt_emb", tmp_path / "tgt.vec",
         "--dico_eval", tmp_path / "dico.txt", "--max_vocab", "150", "--lowercase", "--cpu",
         "--knn-backend", "torch"])


def test_wordsim_case_warning_and_lowercase(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((N, D)).astype(np.float32)
    save_vec(tmp_path / "a.vec", [f"W{i}" if i % 2 == 0 else f"w{i}" for i in range(N)], X)
    save_vec(tmp_path / "b.vec", [f"v{i}" for i in range(N)], X)
    write_lines(tmp_path / "pairs.txt", [f"w{i}\tv{j}\t{4.0 if i == j else 1.0}"
                                         for i in range(20) for j in (i, i + 50)])
    base = ["xdomain-wordsim", "--src-emb", tmp_path / "a.vec", "--tgt-emb", tmp_path / "b.vec",
            "--pairs", tmp_path / "pairs.txt"]
    cased = run([*base, "-o", tmp_path / "cased.json"])
    assert "20 source and 0 target terms are out of vocabulary only because of case" \
        in cased.stderr
    assert json.loads((tmp_path / "cased.json").read_text())["coverage"] == 0.5
    lowered = run([*base, "--lowercase", "--output", tmp_path / "lower.json"])
    assert "only because of case" not in lowered.stderr
    rec = json.loads((tmp_path / "lower.json").read_text())
    assert rec["coverage"] == 1.0 and rec["config"]["lowercase"] is True

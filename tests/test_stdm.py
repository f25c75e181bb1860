"""STDM: exact 1.0 on identical corpora, ~0 on disjoint vocabularies, matched > mismatched."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from conftest import run, write_lines

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.stdm import sample_documents, stdm, stdm_from_documents
from fairseq_xdomain.synthetic import write_cipher_pair, write_mismatched_pair


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    out = tmp_path_factory.mktemp("stdm_family")
    return write_mismatched_pair(out, n_lines=3000, vocab_size=600, n_shared=20, seed=2,
                                 n_dict_test=20, n_dict_train=20, min_count=2, n_wordsim=20)


def test_identical_corpora_give_exactly_one(tmp_path, family):
    text = family["aa.wiki.txt"].read_bytes()
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(text)
    b.write_bytes(text)
    rec = stdm(a, b, docs_per_corpus=100, lines_per_doc=5, svd_dim=20, seed=7)
    assert rec["documents"] == [100, 100] and rec["documents_available"] == [600, 600]
    assert rec["s11"] == pytest.approx(rec["s22"], rel=1e-9)
    assert rec["s12"] == pytest.approx(rec["s11"], rel=1e-9)
    assert rec["stdm"] == pytest.approx(1.0, abs=1e-9)


def test_disjoint_vocabularies_give_about_zero(tmp_path):
    paths = write_cipher_pair(tmp_path, n_train=1500, n_valid=1, n_test=1, vocab_size=300,
                              n_shared=0, seed=0)
    rec = stdm(paths["train.aa"], paths["train.bb"], docs_per_corpus=150, lines_per_doc=5,
               svd_dim=30)
    assert abs(rec["stdm"]) < 0.02
    assert rec["s11"] > 0 and rec["s22"] > 0


def test_matched_domains_score_higher_than_mismatched(tmp_path, family):
    lines = family["aa.wiki.txt"].read_text(encoding="utf-8").splitlines()
    wiki1 = write_lines(tmp_path / "wiki1.txt", lines[:1500])
    wiki2 = write_lines(tmp_path / "wiki2.txt", lines[1500:])
    un = write_lines(tmp_path / "un.txt",
                     family["aa.un.txt"].read_text(encoding="utf-8").splitlines()[:1500])
    kw = dict(docs_per_corpus=150, lines_per_doc=5, svd_dim=30, seed=0)
    matched = stdm(wiki1, wiki2, **kw)["stdm"]
    mismatched = stdm(wiki1, un, **kw)["stdm"]
    assert 0.8 < matched <= 1.0
    assert mismatched < matched - 0.2
    assert mismatched > 0.0


def test_mean_of_pairs_equals_dot_of_means():
    rng = np.random.default_rng(0)
    vocab = [f"w{i}" for i in range(50)]
    docs1 = [" ".join(rng.choice(vocab[:35], 12)) for _ in range(30)]
    docs2 = [" ".join(rng.choice(vocab[15:], 12)) for _ in range(20)]
    rec = stdm_from_documents(docs1, docs2, svd_dim=10, seed=0)
    # recompute the paper's definition literally with the same decomposition
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    X = TfidfVectorizer(token_pattern=r"(?u)\S+").fit_transform(docs1 + docs2)
    svd = TruncatedSVD(10, algorithm="randomized", n_iter=7, random_state=0)
    U = svd.fit_transform(X) / np.sqrt(svd.singular_values_)
    A, B = U[:30], U[30:]
    s = {k: float((x @ y.T).mean()) for k, (x, y) in
         {"s11": (A, A), "s22": (B, B), "s12": (A, B), "s21": (B, A)}.items()}
    for key, value in s.items():
        assert rec[key] == pytest.approx(value, rel=1e-9)
    assert rec["stdm"] == pytest.approx((s["s12"] + s["s21"]) / (s["s11"] + s["s22"]))


def test_reservoir_sample_is_uniform_consecutive_and_deterministic(tmp_path):
    path = write_lines(tmp_path / "n.txt", [f"line{i}" for i in range(1003)])
    sample = sample_documents(path, 50, 4, seed=1)
    assert sample.n_docs_total == 251 and sample.n_lines == 1003 and len(sample.docs) == 50
    firsts = []
    for doc in sample.docs:
        nums = [int(x[4:]) for x in doc.split("\n")]
        assert nums == list(range(nums[0], nums[0] + len(nums))) and nums[0] % 4 == 0
        firsts.append(nums[0])
    assert firsts == sorted(set(firsts))
    assert max(firsts) > 500  # not just the head of the file
    assert sample_documents(path, 50, 4, seed=1).docs == sample.docs
    assert sample_documents(path, 50, 4, seed=2).docs != sample.docs
    # uniformity over many seeds: the late half of the file is not under-represented
    late = [np.mean([int(d.split("\n")[0][4:]) >= 500 for d in
                     sample_documents(path, 20, 4, seed=s).docs]) for s in range(30)]
    assert 0.4 < float(np.mean(late)) < 0.6


def test_bad_inputs(tmp_path, caplog):
    good = write_lines(tmp_path / "good.txt", [f"a{i % 7} b{i % 5} c{i % 3}" for i in range(40)])
    with pytest.raises(UserError, match="does not exist"):
        stdm(tmp_path / "missing.txt", good, docs_per_corpus=5, lines_per_doc=2, svd_dim=3)
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(UserError, match="empty"):
        stdm(tmp_path / "empty.txt", good, docs_per_corpus=5, lines_per_doc=2, svd_dim=3)
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 ol\xe9\n\xff\xfe\n")
    with pytest.raises(UserError, match="not a UTF-8 input file"):
        stdm(tmp_path / "latin1.txt", good, docs_per_corpus=5, lines_per_doc=2, svd_dim=3)
    mixed = tmp_path / "mixed.txt"
    mixed.write_bytes(good.read_bytes() + b"caf\xe9\n")
    with pytest.raises(UserError, match="line 41"):
        stdm(mixed, good, docs_per_corpus=5, lines_per_doc=2, svd_dim=3, on_bad_utf8="fail")
    with caplog.at_level(logging.WARNING):
        rec = stdm(mixed, good, docs_per_corpus=100, lines_per_doc=2, svd_dim=50)
    assert rec["bad_utf8_lines"] == [1, 0] and rec["lines_read"] == [40, 40]
    assert rec["documents"] == [20, 20]  # shrunk to what the corpora hold
    assert rec["svd_dim_used"] < 50
    assert "only 20 documents" in caplog.text and "reduced" in caplog.text
    spaces = write_lines(tmp_path / "spaces.txt", ["   ", " "])
    with pytest.raises(UserError, match="no token"):
        stdm(spaces, spaces, docs_per_corpus=5, lines_per_doc=1, svd_dim=3)


def test_cli_json_and_errors(tmp_path, family):
    out = tmp_path / "res" / "stdm.json"
    proc = run(["xdomain-stdm", family["aa.wiki.txt"], family["aa.un.txt"], "--docs-per-corpus",
                "80", "--lines-per-doc", "5", "--svd-dim", "20", "--seed", "3", "--pair", "aa-bb", "--json", out])
    rec = json.loads(out.read_text())
    assert rec["kind"] == "stdm" and rec["config"]["seed"] == 3 and rec["config"]["svd_dim"] == 20
    assert rec["details"]["documents"] == [80, 80] and rec["wall_s"] >= 0
    assert rec["pair"] == "aa-bb" and 0 < rec["stdm"] < 1
    assert f"{rec['stdm']:.4f}" in proc.stdout
    assert (tmp_path / "res" / "stdm.md").read_text().count("|") > 10
    bad = run(["xdomain-stdm", tmp_path / "nope.txt", family["aa.un.txt"]], check=False)
    assert bad.returncode == 2 and "nope.txt: corpus does not exist" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_empty_documents_are_counted_and_too_little_text_is_an_error(tmp_path, caplog):
    """Issue 13, kind 3: a token-less document is left out and counted; a corpus with no token
    or fewer than 2 documents is a one-line error, not a score of 0.0."""
    good = write_lines(tmp_path / "good.txt", [f"a{i % 7} b{i % 5} c{i % 3}" for i in range(40)])
    # 40 lines in documents of 2: documents 3, 4 and 10 hold only empty or blank lines
    lines = [f"a{i % 7} b{i % 5}" for i in range(40)]
    for i in (4, 5, 6, 7, 18, 19):
        lines[i] = " " if i % 2 else ""
    gappy = write_lines(tmp_path / "gappy.txt", lines)
    with caplog.at_level(logging.WARNING):
        rec = stdm(gappy, good, docs_per_corpus=100, lines_per_doc=2, svd_dim=5)
    assert rec["empty_documents"] == [3, 0] and rec["documents"] == [17, 20]
    assert "3 of 20 documents have no token" in caplog.text
    sample = sample_documents(gappy, 100, 2)
    assert sample.empty_docs == 3 and all(doc.strip() for doc in sample.docs)

    blank = write_lines(tmp_path / "blank.txt", ["", "  ", "\t", ""])
    with pytest.raises(UserError) as err:  # was a score of 0.0
        stdm(blank, good, docs_per_corpus=5, lines_per_doc=1, svd_dim=3)
    assert str(err.value) == f"{blank}: no token in its 4 readable lines (every line is empty " \
        "or blank)"
    one = write_lines(tmp_path / "one.txt", ["a b", "", "c"])
    with pytest.raises(UserError) as err:  # was a score from a single document
        stdm(one, good, docs_per_corpus=5, lines_per_doc=3, svd_dim=3)
    assert str(err.value) == (f"{one}: only 1 document with tokens (3 lines, 3 per document); "
                              "STDM needs at least 2 documents per corpus (give more text or "
                              "lower --lines-per-doc)")
    with pytest.raises(UserError, match="--docs-per-corpus must be at least 2, got 1"):
        stdm(good, good, docs_per_corpus=1, lines_per_doc=1, svd_dim=3)
    with pytest.raises(UserError, match="corpus 2: only 1 document with tokens"):
        stdm_from_documents(["a b", "c d"], ["a", " "], svd_dim=2)
    proc = run(["xdomain-stdm", blank, good, "--lines-per-doc", "1"], check=False)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        f"error: {blank}: no token in its 4 readable lines (every line is empty or blank)"]
    assert "STDM" not in proc.stdout

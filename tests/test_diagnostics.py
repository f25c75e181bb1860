"""The data diagnostics (fairseq_xdomain/diagnostics/) on small generated data."""
from collections import Counter

import numpy as np
import pytest

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.diagnostics import (
    DiagnosticsConfig,
    Finding,
    corpus_size,
    diagnose,
    eigenvector_similarity,
    knn_laplacian,
    lexical_overlap,
    size_finding,
)


def test_laplacian_of_a_known_graph():
    # four points on two lines: 1-NN links 0-1 and 2-3 only
    x = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.01, 1.0]])
    lap = knn_laplacian(x, 1)
    expected = np.array([[1, -1, 0, 0], [-1, 1, 0, 0], [0, 0, 1, -1], [0, 0, -1, 1]], float)
    assert np.array_equal(lap, expected)
    with pytest.raises(ValueError):
        knn_laplacian(x, 4)


def test_rotation_is_isomorphic_random_pair_is_not():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 30))
    q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    rotated = eigenvector_similarity(x, x @ q, n_words=400, k=5)
    # a row permutation does not change the spectrum either
    perm = eigenvector_similarity(x, (x @ q)[rng.permutation(400)], n_words=400, k=5)
    other = eigenvector_similarity(x, rng.standard_normal((400, 30)), n_words=400, k=5)
    assert rotated["delta"] < 1e-6 and perm["delta"] < 1e-6
    assert other["delta"] > 1.0
    # a clustered space (hubs, dense groups) is much further from a structureless one than two
    # structureless ones are from each other: Δ compares graph spectra
    centres = 3 * rng.standard_normal((20, 30))
    clustered = centres[rng.integers(0, 20, 400)] + rng.standard_normal((400, 30))
    assert eigenvector_similarity(x, clustered, 400, 5)["delta"] > 20 * other["delta"]
    assert 1 <= other["m"] <= 400


def test_identical_string_share_by_hand():
    src = Counter({"the": 10, "software": 4, "server": 3, "42": 50, "cat": 1})
    tgt = Counter({"die": 8, "software": 2, "server": 1, "42": 40, "hund": 5})
    ov = lexical_overlap(src, tgt, top_n=3)
    # top 3 with a letter: src the/software/server, tgt die/hund/software ("42" is left out)
    assert ov.n_src == 3 and ov.n_tgt == 3 and ov.shared == 1
    assert ov.vocab_jaccard == pytest.approx(1 / 5)
    # software: 4 + 2 of (10 + 4 + 3) + (8 + 5 + 2) running words
    assert ov.identical_token_share == pytest.approx(6 / 32)
    assert ov.top_shared == ["software"]
    full = lexical_overlap(src, tgt, top_n=10)
    assert full.shared == 2 and full.identical_token_share == pytest.approx((6 + 4) / 34)  # (10+4+3+1) + (8+2+1+5)


def test_corpus_size_and_finding(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c\nb c\n\nd\n", encoding="utf-8")
    size = corpus_size(path)
    assert (size.lines, size.tokens, size.types, size.complete) == (4, 6, 4, True)
    part = corpus_size(path, max_lines=2)
    assert part.lines == 4 and part.lines_read == 2 and not part.complete
    assert part.tokens == 10  # 5 tokens in 2 of 4 lines, scaled
    finding = size_finding({"en": size, "de": size}, paper_lines=100)
    assert finding.risk == "high" and "4.0%" in finding.sentence
    assert size_finding({"en": size}, paper_lines=6).risk == "low"
    with pytest.raises(UserError):
        corpus_size(tmp_path / "missing.txt")
    with pytest.raises(ValueError):
        Finding("x", risk="unknown")


def test_diagnose_end_to_end(tmp_path):
    rng = np.random.default_rng(1)
    words_en = [f"w{i}" for i in range(50)] + ["server", "linux"]
    words_de = [f"v{i}" for i in range(50)] + ["server", "linux"]
    for name, words in (("en", words_en), ("de", words_de), ("de2", words_de)):
        lines = [" ".join(rng.choice(words, size=8)) for _ in range(300)]
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    x = rng.standard_normal((60, 8))
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    report = diagnose(tmp_path / "en", tmp_path / "de", stdm_corpus=tmp_path / "de2",
                      src_vectors=x, tgt_vectors=x @ q,
                      cfg=DiagnosticsConfig(top_n=100, stdm_docs_per_corpus=30,
                                            stdm_lines_per_doc=10, stdm_svd_dim=5,
                                            iso_words=60, iso_k=3))
    names = [f.name for f in report.findings]
    assert names == ["corpus_size", "lexical_overlap", "stdm", "isomorphism"]
    rec = report.to_dict()
    assert rec["corpus_size"]["corpora"]["en"]["lines"] == 300
    assert rec["lexical_overlap"]["shared"] == 2
    assert rec["stdm"]["stdm"] > 0.8  # two samples of one distribution
    assert rec["isomorphism"]["eigenvector_similarity"] < 1e-6
    assert rec["isomorphism"]["ratio_to_random"] < 0.01
    assert report.risk == "high"  # 300 lines: far below the paper's 5M
    assert all(s.endswith(".") for s in report.sentences())

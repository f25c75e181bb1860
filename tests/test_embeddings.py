"""Word vectors: .vec reading/writing with its bad-input errors, fastText separate and joint."""
from __future__ import annotations

import random

import numpy as np
import pytest
from conftest import run, write_lines

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.embeddings.vecio import load_vec, save_vec


def _vec(path, header, rows):
    write_lines(path, [header, *rows])
    return path


def test_vec_roundtrip_and_max_vocab(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 7)).astype(np.float32)
    words = [f"w{i}" for i in range(50)]
    save_vec(tmp_path / "a.vec", words, vectors)
    wv = load_vec(tmp_path / "a.vec")
    assert wv.words == words and wv.vectors.dtype == np.float32
    np.testing.assert_allclose(wv.vectors, vectors, rtol=1e-5, atol=1e-6)
    assert wv.word2id["w7"] == 7
    assert len(load_vec(tmp_path / "a.vec", max_vocab=10)) == 10
    # fastText writes a trailing space on every row
    _vec(tmp_path / "b.vec", "2 3", ["x 1 2 3 ", "y 4 5 6 "])
    assert load_vec(tmp_path / "b.vec").vectors.tolist() == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize("header,rows,message", [
    ("3 2", ["a 1 2", "b 3 4"], "header says 3 words but the file has 2 rows"),
    ("1 2", ["a 1 2", "b 3 4"], "header says 1 words but the file has 2 rows"),
    ("2 3", ["a 1 2 3", "b 3 4"], "line 3 has 2 values, expected 3"),
    ("2 2", ["a 1 2", "b 3 4 5"], "line 3 has 3 values, expected 2"),
    ("2 2", ["a 1 nan", "b 3 4"], "1 vectors contain NaN or inf (first: 'a' on line 2)"),
    ("2 2", ["a 1 2", "b inf 4"], "vectors contain NaN or inf (first: 'b' on line 3)"),
    ("2 2", ["a 1 x", "b 3 4"], "line 2 has a value that is not a number"),
    ("hello", ["a 1 2"], "first line must be the header 'N D'"),
])
def test_vec_bad_input_one_line_errors(tmp_path, header, rows, message):
    path = _vec(tmp_path / "bad.vec", header, rows)
    with pytest.raises(UserError) as err:
        load_vec(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_vec_duplicates_keep_first_and_count(tmp_path):
    path = _vec(tmp_path / "dup.vec", "4 2", ["a 1 2", "b 3 4", "a 9 9", "b 8 8"])
    wv = load_vec(path)
    assert wv.words == ["a", "b"] and wv.n_duplicates == 2
    assert wv.vectors.tolist() == [[1, 2], [3, 4]]


def _corpus(path, vocab, n_lines, seed, shared=()):
    rng = random.Random(seed)
    weights = [1.0 / (i + 1) for i in range(len(vocab))]  # Zipfian: a known frequency order
    lines = []
    for _ in range(n_lines):
        words = rng.choices(vocab, weights=weights, k=8)
        if shared:
            words.append(rng.choice(shared))
        lines.append(" ".join(words))
    return write_lines(path, lines)


FT_FLAGS = ["--dim", "16", "--epoch", "1", "--thread", "1", "--bucket", "2000", "--min-count", "2",
            "--minn", "0", "--maxn", "0"]


def test_fasttext_separate_and_joint(tmp_path):
    en = _corpus(tmp_path / "en.txt", [f"en{i}" for i in range(60)], 600, 1, shared=["42", "bob"])
    fr = _corpus(tmp_path / "fr.txt", [f"fr{i}" for i in range(80)], 600, 2, shared=["42", "bob"])
    run(["xdomain-embed", "train", "--input", en, "--output", tmp_path / "sep/en", *FT_FLAGS])
    sep = load_vec(tmp_path / "sep/en.vec")
    assert sep.dim == 16 and "</s>" not in sep.word2id and sep.words[0] == "en0"
    assert (tmp_path / "sep/en.bin").exists()
    assert load_vec(tmp_path / "sep/en.bin").words == sep.words  # .bin reading

    out = run(["xdomain-embed", "joint", "--inputs", en, fr, "--langs", "en", "fr",
               "--output-dir", tmp_path / "joint", *FT_FLAGS])
    assert "en:" in out.stdout and "fr:" in out.stdout
    je, jf = load_vec(tmp_path / "joint/en.vec"), load_vec(tmp_path / "joint/fr.vec")
    # each language keeps its own vocabulary, in its own corpus frequency order
    assert not any(w.startswith("fr") for w in je.words)
    assert not any(w.startswith("en") for w in jf.words)
    counts = {}
    for line in en.read_text().split():
        counts[line] = counts.get(line, 0) + 1
    assert [counts[w] for w in je.words] == sorted((counts[w] for w in je.words), reverse=True)
    # identical strings share the joint model's vector
    np.testing.assert_array_equal(je.vectors[je.word2id["42"]], jf.vectors[jf.word2id["42"]])
    assert not np.allclose(je.vectors[je.word2id["42"]], je.vectors[je.word2id["bob"]])


def test_embed_cli_errors_are_one_line(tmp_path):
    proc = run(["xdomain-embed", "train", "--input", tmp_path / "missing.txt", "--output",
                tmp_path / "x"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "Traceback" not in proc.stderr


def test_fasttext_on_binarized_folder(tmp_path):
    """``xdomain-embed binarized``: the folder's text read back from .bin/.idx through its
    dict.txt gives the same joint vocabularies (same frequency order) as the raw corpora, and a
    shared string has one vector; a language without data is a one-line error."""
    from fairseq_xdomain.preprocess.binarize import binarize_folder

    raw = tmp_path / "raw"
    raw.mkdir()
    _corpus(raw / "train.aa", [f"a{i}" for i in range(40)], 400, 1, shared=["42"])
    _corpus(raw / "train.bb", [f"b{i}" for i in range(50)], 400, 2, shared=["42"])
    data = binarize_folder(raw, tmp_path / "bin", splits=())
    out = run(["xdomain-embed", "binarized", data, "--langs", "aa,bb", "--output-dir",
               tmp_path / "emb", *FT_FLAGS])
    assert out.stdout.strip() == f"{tmp_path / 'emb' / 'aa.vec'},{tmp_path / 'emb' / 'bb.vec'}"
    ea, eb = load_vec(tmp_path / "emb/aa.vec"), load_vec(tmp_path / "emb/bb.vec")
    for wv, lang in ((ea, "aa"), (eb, "bb")):
        counts = {}
        for w in (raw / f"train.{lang}").read_text().split():
            counts[w] = counts.get(w, 0) + 1
        counts = {w: c for w, c in counts.items() if c >= 2}  # --min-count 2
        assert sorted(wv.words) == sorted(counts)
        assert [counts[w] for w in wv.words] == sorted(counts.values(), reverse=True)
    np.testing.assert_array_equal(ea.vectors[ea.word2id["42"]], eb.vectors[eb.word2id["42"]])
    assert not list((tmp_path / "emb").glob(".*.txt"))  # the temporary text is removed

    proc = run(["xdomain-embed", "binarized", data, "--langs", "aa,cc", "--output-dir",
                tmp_path / "emb2", *FT_FLAGS], check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"error: {data / 'cc' / 'train'}.bin: missing (binarized training data of 'cc')"


@pytest.mark.parametrize("progress", [True, False])
def test_fasttext_progress_on_stderr(tmp_path, capfd, progress):
    """fastText shows its progress line (percent, words/sec/thread, ETA) when asked (by default:
    when stderr is a terminal), and stays silent otherwise (issue 16 point 7: 12 silent minutes)."""
    from fairseq_xdomain.embeddings.fasttext_train import FastTextConfig, train_fasttext

    rng = random.Random(0)
    corpus = tmp_path / "c.txt"
    write_lines(corpus, [" ".join(rng.choice("abcdefgh") * rng.randint(1, 3) for _ in range(12))
                         for _ in range(200)])
    train_fasttext(corpus, FastTextConfig(dim=8, epoch=1, min_count=1, thread=1, minn=0, maxn=0),
                   progress=progress)
    err = capfd.readouterr().err
    assert ("Progress:" in err) == progress, err[-300:]

"""Issue 13, kind 1: every reader of user text decodes it the same way.

A leading BOM and CRLF line ends give the same numbers as the plain file (dictionaries, pairs,
``.vec``, corpora for tokenization and fastText); non-ASCII white space inside tokens follows the
one policy of ``common/whitespace.py`` end to end; a file that is not text is a one-line error;
errors only name flags the tool has; a ``.vec`` header disagreeing with its rows is the same error
in every tool (one reader).
"""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import run

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.whitespace import (
    ASCII_SPACES,
    UNICODE_SPACES,
    SpaceStats,
    normalize_line,
    split_fields,
    split_tokens,
)
from fairseq_xdomain.embeddings.fasttext_train import FastTextConfig, train_joint, train_separate
from fairseq_xdomain.embeddings.vecio import load_vec, save_vec
from fairseq_xdomain.ubli.evaluation import copy_baseline, load_dictionary
from fairseq_xdomain.wordsim import evaluate

BOM = b"\xef\xbb\xbf"
NBSP, NNBSP = "\u00a0", "\u202f"
SRC_VEC = "3 3\nparis 0.9 0.1 0.2\nberlin -0.5 0.2 0.7\nrome 0.3 -0.7 0.4\n"
TGT_VEC = "3 3\nparis 0.9 0.1 0.2\nberlin -0.5 0.2 0.7\nroma 0.3 -0.7 0.4\n"
DICO = "paris paris\nberlin berlin\nrome roma\n"
PAIRS = "paris\troma\t3.5\nberlin\tparis\t1.0\nrome\troma\t4.0\nberlin\troma\t0.5\n"


def _write(path, text: str, bom=False, crlf=False):
    data = text.replace("\n", "\r\n") if crlf else text
    path.write_bytes((BOM if bom else b"") + data.encode("utf-8"))
    return path


def _variants(tmp_path, name, text):
    """The plain file, with a BOM, with CRLF, with both."""
    return [_write(tmp_path / f"{name}.{i}", text, bom=b, crlf=c)
            for i, (b, c) in enumerate([(False, False), (True, False), (False, True), (True, True)])]


def test_unicode_space_table_is_complete():
    every = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    assert set(UNICODE_SPACES) | (set(ASCII_SPACES) - {"\x00"}) == every
    assert not set(UNICODE_SPACES) & set(ASCII_SPACES)


# ------------------------------------------------------------------ BOM and CRLF: same numbers


def test_bom_crlf_vec_gives_the_same_vectors(tmp_path):
    ref = None
    for path in _variants(tmp_path, "tgt.vec", TGT_VEC.replace("\n", " \n")):  # + fastText's space
        wv = load_vec(path)
        assert wv.words == ["paris", "berlin", "roma"], path
        if ref is None:
            ref = wv.vectors
        np.testing.assert_array_equal(wv.vectors, ref)


def test_bom_crlf_dictionary_gives_the_same_copy_p1(tmp_path):
    src, tgt = load_vec(_write(tmp_path / "s.vec", SRC_VEC)), load_vec(_write(tmp_path / "t.vec", TGT_VEC))
    for path in _variants(tmp_path, "dico", DICO):
        dico = load_dictionary(path)
        assert sorted(dico.gold) == ["berlin", "paris", "rome"], path
        res = copy_baseline(dico, src.word2id, tgt.word2id)
        assert res["copy_p@1"] == pytest.approx(200 / 3) and res["coverage"] == 1.0


def test_bom_dictionary_and_vec_through_the_cli(tmp_path):
    """Case 09 (a, c): copy P@1 66.67 with a BOM in the dictionary or the target .vec."""
    s = _write(tmp_path / "s.vec", SRC_VEC)
    t = _write(tmp_path / "t.vec", TGT_VEC, bom=True, crlf=True)
    d = _write(tmp_path / "d.txt", DICO, bom=True)
    out = run(["xdomain-ubli", "baseline", "--method", "copy", "--src-emb", s, "--tgt-emb", t,
               "--dico-eval", d, "--out", tmp_path / "o"])
    assert "copy_p@1 66.67 (all 66.67), coverage 1.000" in out.stdout


def test_bom_crlf_pairs_give_the_same_word_similarity(tmp_path):
    s, t = _write(tmp_path / "s.vec", SRC_VEC), _write(tmp_path / "t.vec", TGT_VEC)
    recs = [evaluate(s, t, p) for p in _variants(tmp_path, "pairs.tsv", PAIRS)]
    for rec in recs:
        assert rec["n_covered"] == 4 and rec["terms"]["src"]["oov_examples"] == []
        assert rec["harmonic_mean"] == pytest.approx(recs[0]["harmonic_mean"])
    assert recs[0]["harmonic_mean"] == pytest.approx(0.8334, abs=1e-4)
    # a SemEval gold file with BOM and CRLF too
    data = _write(tmp_path / "xx-yy.test.data.txt", "".join(
        "\t".join(line.split("\t")[:2]) + "\n" for line in PAIRS.splitlines()), bom=True)
    _write(tmp_path / "xx-yy.test.gold.txt", "3.5\n1.0\n4.0\n0.5\n", bom=True, crlf=True)
    assert evaluate(s, t, data)["harmonic_mean"] == pytest.approx(recs[0]["harmonic_mean"])


def test_tokenization_drops_bom_cr_and_unicode_spaces(tmp_path):
    src = tmp_path / "raw.txt"
    src.write_bytes(BOM + "The cat sat on the mat.\r\nThe dog sat in new\u00a0york\u202ftoo.\r\n"
                    "Cat\ufeffs and \u3000dogs.\r\n".encode())
    out = tmp_path / "tok.txt"
    run(["xdomain-prep", "tokenize", "--lang", "en", "--workers", "1", src, "-o", out])
    text = out.read_text(encoding="utf-8")
    assert "\ufeff" not in text and "\r" not in text
    assert not any(c in UNICODE_SPACES for c in text)
    assert text.splitlines() == ["The cat sat on the mat .", "The dog sat in new york too .",
                                 "Cats and dogs ."]


def test_tokenize_file_counts_the_normalised_characters(tmp_path):
    from fairseq_xdomain.preprocess.tokenize import tokenize_file

    src = _write(tmp_path / "raw.txt", f"a{NBSP}b c\nd{NNBSP}e{NBSP}f\ng\ufeffh\n", bom=True)
    res = tokenize_file(src, tmp_path / "tok.txt", "en", workers=1)
    assert res["unicode_spaces"] == 3 and res["stray_bom"] == 1 and res["written"] == 3


# ------------------------------------------------------------------ non-ASCII white space policy


def test_whitespace_helpers():
    stats = SpaceStats()
    assert normalize_line(f"new{NBSP}york{NNBSP}city\ufeff", stats) == "new york city"
    assert (stats.unicode_spaces, stats.stray_bom, stats.lines) == (2, 1, 1)
    assert split_tokens(f"a{NBSP}b\tc  d\x1ce") == ["a", "b", "c", "d", "e"]
    assert split_fields(f"new{NBSP}york nueva{NBSP}york") == [f"new{NBSP}york", f"nueva{NBSP}york"]


def test_vec_words_with_unicode_spaces_round_trip(tmp_path):
    words = ["the", NBSP, f"new{NNBSP}york", f"a{NBSP}b", "\u3000x", "cat"]
    vectors = np.arange(18, dtype=np.float32).reshape(6, 3)
    save_vec(tmp_path / "a.vec", words, vectors)
    wv = load_vec(tmp_path / "a.vec")
    assert wv.words == words and wv.n_unicode_space_words == 4
    np.testing.assert_array_equal(wv.vectors, vectors)


def test_dictionary_word_with_nbsp_finds_the_vec_row(tmp_path):
    vec = _write(tmp_path / "v.vec", f"3 2\nthe 1 0\nnew{NBSP}york 0 1\ncat 1 1\n")
    wv = load_vec(vec)
    dico = load_dictionary(_write(tmp_path / "d.txt", f"new{NBSP}york new{NBSP}york\ncat cat\n"
                                                      f"the{NBSP}the\n"))
    assert dico.gold == {f"new{NBSP}york": [f"new{NBSP}york"], "cat": ["cat"], "the": ["the"]}
    assert dico.n_bad_lines == 0 and dico.n_unicode_separated == 1
    res = copy_baseline(dico, wv.word2id, wv.word2id)
    assert res["n_covered"] == 3 and res["copy_p@1"] == 100.0


def test_unmappable_vec_words_are_an_error_at_read_time(tmp_path):
    cases = {
        "space": ("3 3\nthe 0.9 0.1 0.2 \nra de 0.1 0.8 -0.3 \ncat 0.3 -0.7 0.4 \n",
                  "line 3: the word 'ra de' contains a space"),
        "tab": ("2 2\na\tb 1 2\nc 3 4\n", "line 2: the word 'a\\tb' contains a tab"),
        "empty": ("2 2\n 1 2\nc 3 4\n", "line 2: the word '' is empty"),
    }
    for name, (text, message) in cases.items():
        path = _write(tmp_path / f"{name}.vec", text)
        with pytest.raises(UserError) as err:
            load_vec(path)
        assert str(err.value).startswith(f"{path}: ") and message in str(err.value), name
        assert "\n" not in str(err.value)


def test_save_vec_refuses_only_what_the_format_cannot_hold(tmp_path):
    with pytest.raises(UserError, match="'a b' contains a space"):
        save_vec(tmp_path / "x.vec", ["a b"], np.zeros((1, 2)))
    save_vec(tmp_path / "y.vec", [f"a{NBSP}b"], np.zeros((1, 2)))  # lossless, no error


def test_ubli_export_keeps_words_with_unicode_spaces(tmp_path):
    """Case 07 (a): the mapped .vec is written after the work, with the U+00A0 / U+202F words."""
    text = (f"5 3\nthe 0.9 0.1 0.2 \n{NBSP} 0.1 0.8 -0.3 \nnew{NNBSP}york -0.5 0.2 0.7 \n"
            "cat 0.3 -0.7 0.4 \ndog -0.2 -0.4 -0.8 \n")
    s, t = _write(tmp_path / "s.vec", text), _write(tmp_path / "t.vec", text)
    d = _write(tmp_path / "d.txt", "the the\ncat cat\ndog dog\n")
    run(["xdomain-ubli", "baseline", "--method", "identical", "--src-emb", s, "--tgt-emb", t,
         "--dico-eval", d, "--out", tmp_path / "o", "--refinement", "1", "--no-progress",
         "--threads", "1"])
    mapped = load_vec(tmp_path / "o/src.mapped.vec")
    assert mapped.words == load_vec(s).words
    assert load_vec(tmp_path / "o/tgt.vec").words == mapped.words


FT = FastTextConfig(dim=8, min_count=1, epoch=1, thread=1, bucket=1000, minn=0, maxn=0)


def _nbsp_corpus(path):
    lines = []
    for i in range(40):
        lines += [f"the cat saw the dog in new{NBSP}york on day {i % 7}",
                  f"a dog and a cat live in the{NNBSP}city"]
    return _write(path, "\n".join(lines) + "\n", bom=True, crlf=True)


def test_fasttext_train_nbsp_policy_end_to_end(tmp_path):
    """Case 07 (d): ``xdomain-embed train`` on a corpus with U+00A0 inside tokens writes a .vec
    (no failure at export), whose words are the corpus split on every white space, counted."""
    corpus = _nbsp_corpus(tmp_path / "en.txt")
    out = run(["xdomain-embed", "train", "--input", corpus, "--output", tmp_path / "emb",
               "--dim", "8", "--epoch", "1", "--min-count", "1", "--thread", "1",
               "--bucket", "1000", "--no-bin"])
    assert "80 non-ASCII white-space character(s)" in out.stderr
    wv = load_vec(tmp_path / "emb.vec")
    expected = set(corpus.read_bytes()[3:].decode().split())
    assert set(wv.words) == expected and {"new", "york", "city"} <= expected
    assert wv.n_unicode_space_words == 0 and not any("\ufeff" in w for w in wv.words)
    info = json.loads((tmp_path / "emb.json").read_text())["input"]
    assert (info["unicode_spaces"], info["bom"], info["crlf"], info["lines"]) == (80, 1, 80, 80)
    assert not list(tmp_path.glob(".fasttext-input.*"))  # the normalised copy is removed


def test_fasttext_joint_keeps_every_word_of_the_policy(tmp_path, caplog):
    """Case 07 (e): joint export has 'new' and 'york' (no word silently dropped)."""
    en = _nbsp_corpus(tmp_path / "en.txt")
    fr = _write(tmp_path / "fr.txt", "le chat voit le chien\nun chien et un chat\n" * 20)
    info = train_joint([en, fr], ["en", "fr"], tmp_path / "joint", FT, save_bin=False)
    assert "missing from the joint model" not in caplog.text
    je = load_vec(tmp_path / "joint/en.vec")
    assert set(je.words) == set(en.read_bytes()[3:].decode().split())
    assert "york" in je.word2id and info["inputs"][0]["unicode_spaces"] == 80
    assert info["outputs"]["fr"]["n_words"] == 6
    sep = train_separate(en, tmp_path / "sep/en", FT, save_bin=False)
    assert sep["n_words"] == len(je.words)


def test_fasttext_corpus_of_only_bad_lines_is_one_error(tmp_path):
    """Lines of only U+00A0 (blank under the policy) and one invalid line: nothing to train on."""
    bad = tmp_path / "bad.txt"
    bad.write_bytes("\u00a0\n".encode() * 3 + b"caf\xe9\n")
    with pytest.raises(UserError, match="no text to train on"):
        train_separate(bad, tmp_path / "x", FT, save_bin=False)


# ------------------------------------------------------------------ not text, hints, one reader


def test_not_text_vec_is_a_one_line_error(tmp_path):
    binary = tmp_path / "model.vec"
    binary.write_bytes(bytes(range(256)) * 20)
    latin1 = tmp_path / "latin1.vec"
    latin1.write_bytes(b"3 2\n" + b"".join(b"caf\xe9%d 1 2\n" % i for i in range(3)))
    d = _write(tmp_path / "p.tsv", PAIRS)
    for path in (binary, latin1):
        with pytest.raises(UserError, match=f"{re.escape(str(path))}: not a UTF-8 embedding file"):
            load_vec(path)
    proc = run(["xdomain-wordsim", "--src-emb", binary, "--tgt-emb", binary, "--pairs", d],
               check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {binary}: not a UTF-8")


def test_one_bad_utf8_row_in_a_vec_is_kept_and_counted(tmp_path):
    path = tmp_path / "v.vec"
    path.write_bytes(b"3 2\nthe 1 2\ncaf\xe9 3 4\ncat 5 6\n")
    wv = load_vec(path)
    assert wv.words == ["the", "caf\ufffd", "cat"] and wv.n_bad_utf8 == 1
    assert wv.vectors.tolist() == [[1, 2], [3, 4], [5, 6]]


def _flags_in(text):
    return set(re.findall(r"--[a-z][a-z0-9-]*", text))


@pytest.mark.parametrize("tool", ["baseline", "wordsim"])
def test_bad_utf8_errors_name_only_flags_the_tool_has(tmp_path, tool):
    s, t = _write(tmp_path / "s.vec", SRC_VEC), _write(tmp_path / "t.vec", TGT_VEC)
    if tool == "baseline":
        bad = tmp_path / "d.txt"
        bad.write_bytes(b"paris paris\nber\xfflin berlin\nrome roma\n")
        cmd = ["xdomain-ubli", "baseline", "--method", "copy", "--src-emb", s, "--tgt-emb", t,
               "--dico-eval", bad, "--out", tmp_path / "o"]
        help_cmd = ["xdomain-ubli", "baseline", "--help"]
    else:
        bad = tmp_path / "p.tsv"
        bad.write_bytes(PAIRS.encode().replace(b"berlin\tparis", b"ber\xfflin\tparis"))
        cmd = ["xdomain-wordsim", "--src-emb", s, "--tgt-emb", t, "--pairs", bad]
        help_cmd = ["xdomain-wordsim", "--help"]
    proc = run(cmd, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {bad}: invalid UTF-8 on line 2"), last
    assert _flags_in(last) <= _flags_in(run(help_cmd).stdout), last
    assert "--on-bad-utf8" not in last


def test_vec_header_mismatch_is_the_same_error_everywhere(tmp_path):
    """One reader: load_vec, xdomain-wordsim, xdomain-ubli and --reload-emb say the same."""
    import torch
    from fairseq.data import Dictionary

    from fairseq_xdomain.models.xlm_encoder import reload_embeddings

    bad = _write(tmp_path / "bad.vec", "4 3\nparis 1 2 3\nberlin 4 5 6\nrome 7 8 9\n")
    good = _write(tmp_path / "t.vec", TGT_VEC)
    d = _write(tmp_path / "d.txt", DICO)
    expected = f"{bad}: header says 4 words but the file has 3 rows"
    with pytest.raises(UserError) as err:
        load_vec(bad)
    assert str(err.value) == expected
    with pytest.raises(UserError) as err:
        reload_embeddings(torch.nn.Embedding(8, 3), Dictionary(), str(bad))
    assert str(err.value) == expected
    for cmd in (["xdomain-wordsim", "--src-emb", bad, "--tgt-emb", good, "--pairs",
                 _write(tmp_path / "p.tsv", PAIRS)],
                ["xdomain-ubli", "baseline", "--method", "copy", "--src-emb", bad, "--tgt-emb",
                 good, "--dico-eval", d, "--out", tmp_path / "o"]):
        proc = run(cmd, check=False)
        assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1] == f"error: {expected}"


def test_pipeline_config_bom_and_binary(tmp_path):
    """A config is read by the one reader: a BOM is dropped, a binary file is a one-line error."""
    from fairseq_xdomain.preprocess.pipeline import load_config

    binary = tmp_path / "c.yaml"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(UserError, match=r"c\.yaml: not a UTF-8 pipeline config"):
        load_config(binary)
    corpus = tmp_path / "a.txt"
    corpus.write_text("a b c\n")
    cfg = {"output": str(tmp_path / "out"),
           "corpora": [{"lang": "aa", "domain": "wiki", "train": str(corpus)},
                       {"lang": "bb", "domain": "un", "train": str(corpus)}]}
    plain, bom = tmp_path / "plain.json", tmp_path / "bom.json"
    plain.write_text(json.dumps(cfg))
    bom.write_bytes(b"\xef\xbb\xbf" + json.dumps(cfg).replace("\n", "\r\n").encode())
    assert load_config(bom) == load_config(plain)

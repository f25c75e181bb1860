"""Parallel files stay aligned (issue 13, kind 2): the two sides of a dev/test set are read in
lockstep everywhere they flow (``xdomain-prep pipeline``, ``xdomain-prep binarize --parallel``),
so a bad line on either side drops the pair on both sides (counted) or is replaced, never
shifts the rest of the set."""
from __future__ import annotations

import json
import logging
import random

import pytest
from conftest import run, write_lines

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.preprocess.binarize import binarize, write_aligned
from fairseq_xdomain.preprocess.pipeline import run_pipeline
from fairseq_xdomain.preprocess.spm import apply_spm, train_spm

AA = ["ka", "lo", "mi", "nu", "pe", "ri", "so", "tu", "va", "xe", "zo", "bi"]
CIPHER = {w: w.upper() + "q" for w in AA}


def _pair_lines(n, seed):
    rng = random.Random(seed)
    aa = [" ".join(rng.choice(AA) for _ in range(rng.randint(2, 6))) + f" {i}" for i in range(n)]
    bb = [" ".join(CIPHER.get(w, w) for w in line.split()) for line in aa]
    return aa, bb


def _write_with_bad_line(path, lines, bad_lineno):
    """``lines`` as UTF-8, with an invalid byte inserted into line ``bad_lineno`` (1-based)."""
    raw = [line.encode("utf-8") for line in lines]
    raw[bad_lineno - 1] = raw[bad_lineno - 1][:2] + b"\xff" + raw[bad_lineno - 1][2:]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(r + b"\n" for r in raw))
    return path


def test_write_aligned_drops_a_bad_pair_on_both_sides(tmp_path):
    aa, bb = _pair_lines(12, 0)
    src = _write_with_bad_line(tmp_path / "dev.aa", aa, 3)
    tgt = _write_with_bad_line(tmp_path / "dev.bb", bb, 7)
    out = {"aa": tmp_path / "out.aa", "bb": tmp_path / "out.bb"}
    counts = write_aligned({"aa": src, "bb": tgt}, out)
    keep = [i for i in range(12) if i not in (2, 6)]
    assert out["aa"].read_text(encoding="utf-8").splitlines() == [aa[i] for i in keep]
    assert out["bb"].read_text(encoding="utf-8").splitlines() == [bb[i] for i in keep]
    assert counts == {"pairs": 12, "kept": 10, "dropped_bad_utf8": 2, "replaced_bad_utf8": 0,
                      "cr_replaced": 0}

    counts = write_aligned({"aa": src, "bb": tgt}, out, on_bad_utf8="replace")
    got_aa = out["aa"].read_text(encoding="utf-8").splitlines()
    assert len(got_aa) == 12 and "\ufffd" in got_aa[2] and got_aa[3] == aa[3]
    assert counts["replaced_bad_utf8"] == 2 and counts["kept"] == 12
    with pytest.raises(UserError, match=r"dev\.aa: invalid UTF-8 on line 3"):
        write_aligned({"aa": src, "bb": tgt}, out, on_bad_utf8="fail")

    # a carriage return inside a line would split it for fairseq's text-mode reader
    write_lines(tmp_path / "cr.aa", ["a\rb", "c"])
    write_lines(tmp_path / "cr.bb", ["x", "y"])
    counts = write_aligned({"aa": tmp_path / "cr.aa", "bb": tmp_path / "cr.bb"}, out)
    assert out["aa"].read_bytes() == b"a b\nc\n" and counts["cr_replaced"] == 1

    write_lines(tmp_path / "short.bb", bb[:5])
    with pytest.raises(UserError, match="differ in length"):
        write_aligned({"aa": src, "bb": tmp_path / "short.bb"}, out)


def _decode_split(data, prefix):
    import sentencepiece as spm
    from fairseq.data import Dictionary, data_utils

    d = Dictionary.load(str(data / "dict.txt"))
    sp = spm.SentencePieceProcessor(model_file=str(data / "spm.model"))
    ds = data_utils.load_indexed_dataset(str(data / prefix), d)
    return [sp.decode(d.string(ds[i]).split()) for i in range(len(ds))]


def test_pipeline_keeps_a_parallel_dev_set_aligned(tmp_path, caplog):
    """The case-16 kind: invalid bytes on line 3 of one side and line 7 of the other -> 10
    aligned pairs (the right ones), 2 dropped and reported in the log and the manifest."""
    train_aa, train_bb = _pair_lines(400, 1)
    write_lines(tmp_path / "raw/aa.txt", train_aa)
    write_lines(tmp_path / "raw/bb.txt", train_bb[200:] + train_bb[:200])
    aa, bb = _pair_lines(12, 2)
    _write_with_bad_line(tmp_path / "raw/valid.aa", aa, 3)
    _write_with_bad_line(tmp_path / "raw/valid.bb", bb, 7)
    (tmp_path / "prep.yaml").write_text("""\
output: out/data
corpora:
  - {lang: aa, domain: wiki, train: raw/aa.txt, tokenizer: en}
  - {lang: bb, domain: un, train: raw/bb.txt, tokenizer: en}
parallel:
  valid: {aa: raw/valid.aa, bb: raw/valid.bb}
tokenize: {workers: 1}
spm: {model_type: bpe, vocab_size: 80, character_coverage: 1.0, threads: 1}
""")
    with caplog.at_level(logging.WARNING):
        manifest = run_pipeline(tmp_path / "prep.yaml")
    assert "skipped 2 pair(s) with invalid UTF-8 on either side" in caplog.text
    data = tmp_path / "out/data"
    keep = [i for i in range(12) if i not in (2, 6)]
    assert _decode_split(data, "valid.aa-bb.aa") == [aa[i] for i in keep]
    assert _decode_split(data, "valid.aa-bb.bb") == [bb[i] for i in keep]
    assert manifest == json.loads((data / "manifest.json").read_text())
    assert manifest["parallel"]["valid"]["dropped_bad_utf8"] == 2
    assert manifest["parallel"]["valid"]["kept"] == 10
    assert "dropped_bad_utf8=2" in (data / "manifest.md").read_text()

    (tmp_path / "fail.yaml").write_text((tmp_path / "prep.yaml").read_text().replace(
        "out/data", "out/fail") + "on_bad_utf8: fail\n")
    with pytest.raises(UserError) as err:
        run_pipeline(tmp_path / "fail.yaml")
    assert str(err.value) == (
        f"{tmp_path / 'raw/valid.aa'}: invalid UTF-8 on line 3 (byte 2); set on_bad_utf8: "
        f"skip or replace in {tmp_path / 'fail.yaml'}")


def test_binarize_reads_parallel_files_in_lockstep(tmp_path, caplog):
    """``xdomain-prep binarize --parallel`` on encoded files with bad bytes on different lines:
    the pairs stay aligned; a bad byte in monolingual data is skipped, not a fairseq traceback."""
    train_aa, train_bb = _pair_lines(300, 3)
    write_lines(tmp_path / "aa.txt", train_aa)
    write_lines(tmp_path / "bb.txt", train_bb)
    train_spm([tmp_path / "aa.txt", tmp_path / "bb.txt"], tmp_path / "spm", vocab_size=70,
              threads=1)
    model = tmp_path / "spm.model"
    aa, bb = _pair_lines(12, 4)
    enc = {}
    for name, lines in (("dev.aa", aa), ("dev.bb", bb), ("aa", train_aa), ("bb", train_bb)):
        write_lines(tmp_path / f"{name}.tok", lines)
        enc[name] = tmp_path / f"{name}.spm"
        apply_spm(tmp_path / f"{name}.tok", enc[name], model, threads=1)
    for name, bad in (("dev.aa", 5), ("dev.bb", 11), ("aa", 1)):
        _write_with_bad_line(enc[name], enc[name].read_text(encoding="utf-8").splitlines(), bad)
    data = tmp_path / "DATA"
    with caplog.at_level(logging.WARNING):
        result = binarize(data, model, {"aa": enc["aa"], "bb": enc["bb"]},
                          parallel={"test": {"aa": enc["dev.aa"], "bb": enc["dev.bb"]}})
    assert "skipped 2 pair(s) with invalid UTF-8 on either side" in caplog.text
    assert result["parallel"]["test"]["dropped_bad_utf8"] == 2
    keep = [i for i in range(12) if i not in (4, 10)]
    assert _decode_split(data, "test.aa-bb.aa") == [aa[i] for i in keep]
    assert _decode_split(data, "test.aa-bb.bb") == [bb[i] for i in keep]
    assert len(_decode_split(data, "aa/train")) == 299  # line 1 skipped (logged), no crash
    assert f"{enc['aa']}: skipped 1 line(s) with invalid UTF-8" in caplog.text

    result = binarize(tmp_path / "DATA2", model, {"aa": enc["bb"]}, on_bad_utf8="replace",
                      parallel={"valid": {"aa": enc["dev.aa"], "bb": enc["dev.bb"]}})
    assert result["lines"]["valid.aa-bb.aa"] == 12
    assert result["parallel"]["valid"]["replaced_bad_utf8"] == 2
    # the command line: --on-bad-utf8 fail stops before fairseq runs, with one line
    proc = run(["xdomain-prep", "binarize", "--spm-model", model, "--train", f"aa={enc['bb']}",
                "--parallel", f"test.aa={enc['dev.aa']}", "--parallel", f"test.bb={enc['dev.bb']}",
                "-o", tmp_path / "DATA3", "--on-bad-utf8", "fail"], check=False)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2 and last.startswith(f"error: {enc['dev.aa']}: invalid UTF-8 on "
                                                    "line 5 (byte ")
    assert last.endswith("); use --on-bad-utf8 skip|replace to continue")
    assert "Traceback" not in proc.stderr and "binarizing" not in proc.stderr


def test_pipeline_errors_name_the_config_key_not_a_flag(tmp_path):
    """on_bad_utf8: fail in a pipeline config: the error about a corpus names the config key
    (the pipeline has no --on-bad-utf8 flag)."""
    write_lines(tmp_path / "raw/aa.txt", ["ka lo", "mi nu"])
    (tmp_path / "raw/bb.txt").write_bytes(b"KAq LOq\nM\xffq\n")
    cfg = tmp_path / "p.yaml"
    cfg.write_text("output: out\non_bad_utf8: fail\ncorpora:\n"
                   "  - {lang: aa, domain: wiki, train: raw/aa.txt, valid: raw/aa.txt, "
                   "tokenizer: en}\n"
                   "  - {lang: bb, domain: un, train: raw/bb.txt, tokenizer: en}\n")
    with pytest.raises(UserError) as err:
        run_pipeline(cfg)
    assert str(err.value) == (f"{tmp_path / 'raw/bb.txt'}: invalid UTF-8 on line 2 (byte 1); "
                              f"set on_bad_utf8: skip or replace in {cfg}")

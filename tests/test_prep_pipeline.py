"""xdomain-prep pipeline: a killed run resumes, a second run skips everything, a changed
parameter reruns from its step, the manifest records inputs/params/seeds/outputs."""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import time

import pytest
from conftest import BIN, run, write_lines


def _corpus(path, n, words, seed):
    rng = random.Random(seed)
    return write_lines(path, [" ".join(rng.choice(words) for _ in range(rng.randint(3, 14))) + " ."
                              for _ in range(n)])


def _statuses(data):
    manifest = json.loads((data / "manifest.json").read_text())
    return {s["step"]: s["status"] for s in manifest["steps"]}, manifest


CONFIG = """\
output: data/en-ru
seed: 5
corpora:
  - {{lang: en, domain: wiki, train: raw/en.wiki.txt}}
  - {{lang: ru, domain: news, train: raw/ru.news.txt, valid: raw/ru.valid.txt}}
parallel:
  test: {{en: raw/test.en, ru: raw/test.ru}}
sample: {{n: 2500, drop_empty: true, dedup: true}}
tokenize: {{lowercase: true, workers: 1}}
lemmatize: [ru]
spm: {{model_type: bpe, vocab_size: {vocab}, max_sentences: 100000}}
"""


def test_pipeline_resume_skip_and_rerun(tmp_path):
    en_words = ["The", "cat", "sat", "on", "Mr.", "Smith's", "mat", "(today)", "dogs", "run"]
    ru_words = ["Кошка", "сидела", "на", "ковре", "кошками", "собаками", "играли", "в", "саду"]
    _corpus(tmp_path / "raw/en.wiki.txt", 1500, en_words, 0)
    _corpus(tmp_path / "raw/ru.news.txt", 4000, ru_words, 1)
    _corpus(tmp_path / "raw/ru.valid.txt", 50, ru_words, 2)
    _corpus(tmp_path / "raw/test.en", 40, en_words, 3)
    _corpus(tmp_path / "raw/test.ru", 40, ru_words, 4)
    cfg = tmp_path / "prep.yaml"
    cfg.write_text(CONFIG.format(vocab=150))
    data, work = tmp_path / "data/en-ru", tmp_path / "data/en-ru.work"

    # 1. kill -9 the run while it writes the tokenized Russian corpus
    proc = subprocess.Popen([str(BIN / "xdomain-prep"), "pipeline", "--config", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.time() + 120
    partial = []
    while not partial and proc.poll() is None and time.time() < deadline:
        partial = list(work.glob(".ru.tok.txt.*.tmp")) if work.is_dir() else []
        time.sleep(0.002)
    assert partial, f"never saw the temporary ru.tok.txt: {proc.stderr.read().decode()[-2000:]}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert not (work / "ru.tok.txt").exists()  # no half-written file under a final name
    assert (work / ".stamps/tokenize.en.json").exists()
    assert not (data / "manifest.json").exists()

    # 2. the next run resumes: finished steps are skipped, temporary files are removed
    run(["xdomain-prep", "pipeline", "--config", cfg])
    status, manifest = _statuses(data)
    assert status["sample.en"] == status["tokenize.en"] == status["sample.ru"] == "skipped"
    assert status["tokenize.ru"] == status["lemmatize.ru"] == status["binarize"] == "ran"
    assert not list(work.glob(".*.tmp"))
    for rel in ("dict.txt", "spm.model", "spm.vocab", "en/train.bin", "ru/train.idx",
                "ru/valid.bin", "ru/dict.txt", "test.en-ru.en.bin", "test.en-ru.ru.idx"):
        assert (data / rel).is_file(), rel
    lemmatized = (work / "ru.lem.txt").read_text(encoding="utf-8")
    assert "кошка" in lemmatized and "кошками" not in lemmatized and "Кошка" not in lemmatized
    origin = (work / "joint.txt.origin").read_text().splitlines()
    assert origin[:2] == ["en\twiki", "ru\tnews"]
    # the manifest: inputs with sizes/checksums, parameters, seeds, outputs
    en_raw = tmp_path / "raw/en.wiki.txt"
    entry = next(i for i in manifest["inputs"] if i["role"] == "en.wiki.train")
    assert entry["size"] == en_raw.stat().st_size
    assert entry["sha256"] == hashlib.sha256(en_raw.read_bytes()).hexdigest()
    assert manifest["seeds"] == {"sample": 5, "spm": 5}
    assert manifest["config"]["spm"]["vocab_size"] == 150
    out = {o["path"]: o for o in manifest["outputs"]}
    assert out["en/train.bin"]["sha256"] == \
        hashlib.sha256((data / "en/train.bin").read_bytes()).hexdigest()
    sample_en = next(s for s in manifest["steps"] if s["step"] == "sample.en")
    c = sample_en["counts"]  # n=2500 > 1500 lines: every distinct line kept, counts exact
    assert c["read"] == 1500 and c["kept"] + c["duplicates_in_sample"] + c["empty_dropped"] == 1500
    assert c["all_kept"] and sample_en["params"]["seed"] == 5
    assert (data / "manifest.md").read_text().count("| ran |") == len(
        [s for s in status.values() if s == "ran"])
    bin_before = (data / "en/train.bin").read_bytes()

    # 3. nothing changed: every step is skipped
    run(["xdomain-prep", "pipeline", "--config", cfg])
    status, _ = _statuses(data)
    assert set(status.values()) == {"skipped"}, status

    # 4. a changed spm parameter (JSON config this time) reruns spm and what follows only
    cfg_json = tmp_path / "prep.json"
    import yaml

    cfg_json.write_text(json.dumps(yaml.safe_load(CONFIG.format(vocab=120))))
    run(["xdomain-prep", "pipeline", "--config", cfg_json])
    status, manifest = _statuses(data)
    before_spm = [s for s in status if s.split(".")[0] in ("sample", "tokenize", "lemmatize")]
    assert before_spm and all(status[s] == "skipped" for s in before_spm)
    assert status["concat"] == "skipped"
    assert status["spm.train"] == status["spm.apply.en"] == status["binarize"] == "ran"
    assert manifest["config"]["spm"]["vocab_size"] == 120
    assert len((data / "dict.txt").read_text().splitlines()) == 120 - 3
    assert (data / "en/train.bin").read_bytes() != bin_before


def test_pipeline_config_errors(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("output: out\ncorpora:\n  - {lang: en, domain: wiki, train: nope.txt}\n"
                   "  - {lang: xx, domain: un, train: nope2.txt}\n")
    proc = run(["xdomain-prep", "pipeline", "--config", cfg], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(f"error: {tmp_path / 'nope.txt'}: ")
    write_lines(tmp_path / "nope.txt", ["a"])
    write_lines(tmp_path / "nope2.txt", ["b"])
    proc = run(["xdomain-prep", "pipeline", "--config", cfg], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(
        f"error: {tmp_path / 'nope2.txt'}: unknown tokenizer language 'xx'")
    cfg.write_text("output: out\nsample: {size: 3}\n")
    proc = run(["xdomain-prep", "pipeline", "--config", cfg], check=False)
    assert proc.stderr.strip() == (f"error: {cfg}: unknown key(s) under 'sample': size "
                                   "(known: dedup, drop_empty, n)")


def test_pipeline_vocab_corpora(tmp_path):
    """vocab_corpora: the sentencepiece model also learns a baseline's corpus (its words become
    pieces instead of being spelled out), which is encoded but not binarized; bad entries are a
    one-line error."""
    base = """\
output: data/aa-bb
seed: 1
corpora:
  - {lang: aa, domain: wiki, train: raw/aa.wiki.txt, tokenizer: en}
  - {lang: bb, domain: un, train: raw/bb.un.txt, tokenizer: en}
sample: {n: 5000}
tokenize: {workers: 1}
spm: {model_type: bpe, vocab_size: 150}
"""
    wiki_words = ["zorvat", "quilmenx", "brastovel", "lunthary", "kespodrin"]
    rng = random.Random(7)
    aa_words = ["".join(rng.choice("abcdefg") for _ in range(rng.randint(2, 6))) for _ in range(60)]
    bb_words = ["".join(rng.choice("hijkmnp") for _ in range(rng.randint(2, 6))) for _ in range(60)]
    _corpus(tmp_path / "raw/aa.wiki.txt", 600, aa_words, 0)
    _corpus(tmp_path / "raw/bb.un.txt", 600, bb_words, 1)
    _corpus(tmp_path / "raw/bb.wiki.txt", 600, wiki_words, 2)
    (tmp_path / "plain.yaml").write_text(base)
    (tmp_path / "extra.yaml").write_text(
        base.replace("data/aa-bb", "data/extra") +
        "vocab_corpora:\n  - {lang: bb, domain: wiki, train: raw/bb.wiki.txt}\n")
    run(["xdomain-prep", "pipeline", "--config", tmp_path / "plain.yaml"])
    run(["xdomain-prep", "pipeline", "--config", tmp_path / "extra.yaml"])
    plain = {line.split()[0] for line in (tmp_path / "data/aa-bb/dict.txt").read_text().splitlines()}
    extra = {line.split()[0] for line in (tmp_path / "data/extra/dict.txt").read_text().splitlines()}
    assert not {"\u2581" + w for w in wiki_words} & plain
    assert {"\u2581" + w for w in wiki_words} <= extra
    encoded = (tmp_path / "data/extra.work/bb.wiki.spm.txt").read_text().splitlines()
    assert len(encoded) == 600 and all(t[1:] in wiki_words for t in encoded[0].split()[:-1])
    assert sorted(p.name for p in (tmp_path / "data/extra").iterdir() if p.is_dir()) == ["aa", "bb"]
    manifest = json.loads((tmp_path / "data/extra/manifest.json").read_text())
    assert "bb.wiki.vocab" in {i["role"] for i in manifest["inputs"]}
    for bad, msg in (("  - {lang: cc, domain: wiki, train: raw/bb.wiki.txt}",
                      "vocab_corpora language 'cc' is not one of ['aa', 'bb']"),
                     ("  - {lang: bb, domain: un, train: raw/bb.wiki.txt}",
                      "vocab_corpora repeats bb.un"),
                     ("  - {lang: bb, domain: valid, train: raw/bb.wiki.txt}",
                      "vocab_corpora domain may not be 'valid'"),
                     ("  - {lang: bb, train: raw/bb.wiki.txt}",
                      "each vocab_corpora entry needs exactly lang, domain and train")):
        (tmp_path / "bad.yaml").write_text(base + "vocab_corpora:\n" + bad + "\n")
        proc = run(["xdomain-prep", "pipeline", "--config", tmp_path / "bad.yaml"], check=False)
        assert proc.returncode == 2 and proc.stderr.strip() == f"error: {tmp_path / 'bad.yaml'}: {msg}"


def test_example_config_named_by_help_exists_and_loads(capsys):
    """`xdomain-prep pipeline --help` names recipes/prep_en_fr.yaml: it exists, loads and is the
    en-fr Wiki/UN pair with its UN dev/test sets."""
    import re

    from conftest import REPO

    from fairseq_xdomain.preprocess.cli import main
    from fairseq_xdomain.preprocess.pipeline import load_config

    with pytest.raises(SystemExit):
        main(["pipeline", "--help"])
    named = re.findall(r"--config (\S+\.yaml)", capsys.readouterr().out)
    assert named == ["recipes/prep_en_fr.yaml"]
    cfg = load_config(REPO / named[0])
    assert [(c["lang"], c["domain"]) for c in cfg["corpora"]] == [("en", "wiki"), ("fr", "un")]
    assert sorted(cfg["parallel"]) == ["test", "valid"]
    assert cfg["output"] == str((REPO / "data" / "en-fr").resolve())

"""The MLM and UNMT drivers (``xdomain-run mlm|unmt``, ``recipes/{mlm_pretrain,unmt}.sh``):
labels and typed results read by ``xdomain-report``, input errors, and a real end-to-end run on a
small cipher pair without a parallel dev set (fastText -> MLM -> UNMT for both variants side by
side, two seeds, selection by round-trip BLEU) that resumes: a rerun skips every step, a changed
setting retrains only what it changes, a killed run continues from its ``checkpoint_last.pt``.
About 2 minutes of CPU.
"""
from __future__ import annotations

import json
import shutil

import pytest
from conftest import REPO, cipher_pair_without_dev, run, write_lines

from fairseq_xdomain.common.atomic import write_json
from fairseq_xdomain.experiments import cli
from fairseq_xdomain.experiments.unmt import collect, mlm_data, unmt_settings
from fairseq_xdomain.report import build_report
from fairseq_xdomain.results import read_result
from fairseq_xdomain.synthetic import write_cipher_data

THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _label_data(tmp_path):
    base, joint = tmp_path / "bin_wiki", tmp_path / "bin_joint"
    for d in (base, joint):
        write_lines(d / "dict.txt", ["▁a 3", "▁b 2"])
        for lang in ("en", "fr"):
            (d / lang).mkdir()
            (d / lang / "train.bin").write_bytes(b"")
    write_json(joint / "manifest.json", {"config": {"corpora": [
        {"lang": "en", "domain": "wiki", "train": "en.txt"},
        {"lang": "fr", "domain": "un", "train": "fr.txt"}]}})
    return base, joint


def test_unmt_curves_labels_and_report(tmp_path):
    """One UNMTCurve per (init, direction) with the "data" and "mlm_data" labels (given, or
    from the folder's xdomain-prep manifest), the tiny preset's configuration, and the report
    files the run under that data label (the paper's Table 4 row). The curves come from
    fairseq --log-file lines (what the UNMT step's fairseq-train writes)."""
    base, joint = _label_data(tmp_path)
    res, work = tmp_path / "results" / "r1", tmp_path / "work" / "r1"
    for variant, bleu in (("baseline", [1.0, 2.0]), ("joint", [5.0, 7.5])):
        write_lines(work / variant / "unmt" / "train.log", [
            f"epoch {e + 1:03d} | valid on 'valid' subset | loss 3.0 | bleu_en_fr {b} | "
            f"bleu_fr_en {b / 2} | bleu {0.75 * b} | num_updates {10 * (e + 1)}"
            for e, b in enumerate(bleu)])
    args = cli.build_parser().parse_args([
        "unmt", "--preset", "tiny", "--run", "r1", "--langs", "en,fr", "--mlm-baseline",
        str(base), "--mlm-joint", str(joint)])
    unmt, mlm = unmt_settings(args)
    info = {"baseline": mlm_data(base, ["en", "fr"], "En Wiki, Fr Wiki"),
            "joint": mlm_data(joint, ["en", "fr"], None)}
    collect(res, work, ["en", "fr"], "En Wiki, Fr UN", info,
            {"emb_init": mlm["emb_init"], "unmt_settings": unmt}, {"baseline": 3.0, "joint": 4.0})
    curves = {(c.init, c.direction): c for c in map(read_result, res.glob("bleu.*.json"))}
    assert sorted(curves) == [("baseline", "en-fr"), ("baseline", "fr-en"), ("joint", "en-fr"),
                              ("joint", "fr-en")]
    rec = curves[("joint", "fr-en")]
    assert rec.kind == "unmt" and rec.data == "En Wiki, Fr UN" and rec.pair == "en-fr"
    assert (rec.epochs, rec.bleu, rec.wall_s) == ([1, 2], [2.5, 3.75], 4.0)
    assert rec.config["emb_init"] == "fasttext"  # the tiny preset's
    base_rec = curves[("baseline", "en-fr")]
    assert base_rec.mlm_data == "En Wiki, Fr Wiki"  # given
    assert rec.mlm_data == "en wiki, fr un"  # from the manifest
    assert rec.details["mlm"]["corpora"] == ["en.wiki", "fr.un"]
    assert base_rec.details["mlm"]["corpora"] is None
    assert base_rec.details["mlm"]["langs"] == ["en", "fr"]
    table = (res / "bleu.md").read_text(encoding="utf-8")
    assert "| joint | 2 | 7.50 | 3.75 |" in table and "| baseline | 1 | 1.00 | 0.50 |" in table
    assert sorted(p.name for p in res.glob("*.png")) == ["bleu_en_fr_En_Wiki_Fr_UN.png",
                                                        "bleu_fr_en_En_Wiki_Fr_UN.png"]
    out = build_report(res.parent, plots=False)
    unmt_rows = {(u["data"], u["direction"]): u
                 for u in json.loads(out["json"].read_text())["unmt"]}
    row = unmt_rows[("En Wiki, Fr UN", "en-fr")]
    assert (row["baseline"], row["joint"], row["paper_table"]) == ([1.0, 2.0], [5.0, 7.5], "table4")
    assert unmt_rows[("En Wiki, Fr UN", "fr-en")]["joint"] == [2.5, 3.75]


def test_unmt_and_mlm_input_errors(tmp_path):
    """Bad options and data folders are one line, exit 2, before anything runs (through the
    recipes, which pass every option on)."""
    base, joint = _label_data(tmp_path)
    common = ["--run", "r1", "--langs", "en,fr", "--mlm-baseline", base, "--mlm-joint", joint,
              "--results", tmp_path / "res", "--work", tmp_path / "work"]
    unmt_sh, mlm_sh = REPO / "recipes" / "unmt.sh", REPO / "recipes" / "mlm_pretrain.sh"
    bad = run(["bash", unmt_sh, "--preset", "tiny", *common, "--emb-init", "glove"], check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: --emb-init must be fasttext or random, got glove"
    bad = run(["bash", unmt_sh, *common, "--jobs", "3"], check=False)
    assert (bad.returncode, bad.stderr.strip()) == (2, "error: --jobs must be 1 or 2, got 3")
    write_lines(base / "dict.txt", ["▁a 3", "▁c 2"])
    bad = run(["xdomain-run", "unmt", *common], check=False)
    assert bad.returncode == 2 and bad.stderr.strip() == (
        f"error: {base / 'dict.txt'}: differs from {joint / 'dict.txt'} (one joint vocabulary "
        "needed)")
    assert not (tmp_path / "work").exists()
    # the joint folder (the vocabulary every folder is compared with) is checked before use
    no_dict = tmp_path / "no_dict"
    no_dict.mkdir()
    bad = run(["xdomain-run", "unmt", "--run", "r1", "--langs", "en,fr", "--mlm-baseline", joint,
               "--mlm-joint", no_dict, "--work", tmp_path / "work"], check=False)
    assert (bad.returncode, bad.stderr.strip()) == (
        2, f"error: {no_dict / 'dict.txt'}: binarized data folder expected")
    bad = run(["bash", mlm_sh, tmp_path / "nothing", "en,fr", tmp_path / "out"], check=False)
    assert (bad.returncode, bad.stderr.strip()) == (
        2, f"error: {tmp_path / 'nothing'}: data folder not found")
    bad = run(["bash", mlm_sh, joint, "en,fr", tmp_path / "out", "--data-per-lang", "de=x"],
              check=False)
    assert bad.stderr.strip() == "error: --data-per-lang: 'de' is not one of LANGS (en,fr)"
    bad = run(["bash", mlm_sh, joint, "en;fr", tmp_path / "out"], check=False)
    assert bad.stderr.strip().startswith("error: LANGS 'en;fr': expected comma-separated")


@pytest.fixture(scope="module")
def cipher(tmp_path_factory):
    """A small cipher pair (aa, bb) WITHOUT a parallel dev set (monolingual valid text, a
    parallel test set), and a baseline folder holding only aa (same dictionary)."""
    root = tmp_path_factory.mktemp("unmt_driver")
    _, data = cipher_pair_without_dev(root, n_train=1000)
    base = root / "base"
    base.mkdir()
    shutil.copy(data / "dict.txt", base / "dict.txt")
    shutil.copytree(data / "aa", base / "aa")
    return {"root": root, "joint": data, "base": base}


def _unmt(cipher, *extra, jobs="2"):
    root = cipher["root"]
    return run(["xdomain-run", "unmt", "--preset", "tiny", "--jobs", jobs, "--run", "r",
                "--langs", "aa,bb", "--mlm-baseline", cipher["base"], "--mlm-joint",
                cipher["joint"], "--results", root / "res", "--work", root / "work",
                "--mlm-updates", "10", "--set", "mlm.fasttext.epoch=1",
                "--set", "mlm.fasttext.min_count=1", "--set", "fairseq.epoch_sentences=200",
                *extra], env=THREADS)


def test_unmt_driver_two_seeds_rt_bleu_and_resume(cipher):
    """Issue 24's acceptance in small, then the step runner on the same run.

    A pair WITHOUT a parallel dev set runs end to end with two seeds: fastText -> MLM -> UNMT for
    both variants side by side; the checkpoint is selected by round-trip BLEU (said on stdout,
    recorded in every curve), the test BLEU of the selected checkpoint is reported with mean ± sd
    over the seeds and the sacrebleu signature. Then it resumes: a rerun skips every step, a
    changed UNMT setting (one seed) retrains only the UNMTs of that seed, and a killed run
    continues from its ``checkpoint_last.pt``."""
    root = cipher["root"]
    res, work = root / "res" / "r", root / "work" / "r"
    first = _unmt(cipher, "--epochs", "2", "--seeds", "1,2")
    for variant in ("baseline", "joint"):
        for step in ("mlm.fasttext", "mlm.train", "unmt.train"):
            assert first.stdout.count(f"{variant}.{step}: running") == 2, first.stdout
    assert first.stdout.count("model selection: round-trip BLEU (rt_bleu)") == 2
    curves = {(c.seed, c.init, c.direction): c for c in map(read_result, res.glob("seed-*/bleu.*.json"))}
    assert len(curves) == 8 and {seed for seed, _, _ in curves} == {1, 2}
    for c in curves.values():
        assert c.selector == "rt_bleu" and c.bleu == [] and len(c.rt_bleu) == 2
        assert c.epochs == [1, 2]
        assert c.rt_bleu[c.epochs.index(c.selected_epoch)] == max(c.rt_bleu)
        assert c.test_bleu is not None and "tok:13a" in c.signature
        assert len(c.details["test"]["hypotheses"]) == 40
        assert "provenance" in c.config
    assert curves[1, "joint", "aa-bb"].mlm_data == "bin: aa,bb"  # the folder and its languages
    assert curves[1, "baseline", "aa-bb"].details["mlm"]["langs"] == ["aa"]  # only aa/ in base
    for seed in (1, 2):
        record = json.loads((res / f"seed-{seed}" / "run.json").read_text())
        assert record["seed"] == seed and record["config"]["mlm_updates"] == 10
        assert record["config"]["emb_init"] == "fasttext" and len(record["steps"]) == 6
        assert record["config"]["selector"] == "rt_bleu"
        assert {"libraries", "device", "git"} <= set(record["provenance"])
    # the baseline MLM read the aa vectors of its own text only; the joint one both
    stdout = (work / "seed-1" / "baseline" / "mlm" / "stdout.log").read_text()
    assert "--langs aa " in stdout and "fasttext/aa.vec " in stdout and "bb.vec" not in stdout
    out = build_report(root / "res", plots=False)
    head = "\n".join(out["headline"])
    assert "UNMT test BLEU (r; checkpoint by round-trip BLEU)" in head and "(n=2)" in head
    md = out["report"].read_text()
    assert "BLEU signature: `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" in md
    # a rerun with the same settings runs nothing
    again = _unmt(cipher, "--epochs", "2", "--seeds", "1,2")
    assert again.stdout.count(": up to date") == 12 and ": running" not in again.stdout
    # a changed UNMT setting retrains both UNMTs of that seed from scratch, not the MLMs
    more = _unmt(cipher, "--epochs", "3", "--seeds", "1")
    assert more.stdout.count(": up to date") == 4
    assert more.stdout.count("settings or inputs changed since the last run: removing") == 2
    joint = read_result(res / "seed-1" / "bleu.joint.aa-bb.json")
    assert joint.epochs == [1, 2, 3]
    # deterministic: epochs 1-2 are those of the 2-epoch run
    assert joint.rt_bleu[:2] == curves[1, "joint", "aa-bb"].rt_bleu
    assert read_result(res / "seed-2" / "bleu.joint.aa-bb.json").epochs == [1, 2]  # untouched
    # a killed UNMT run (no stamp yet) continues from its checkpoint_last.pt
    (work / "seed-1" / "joint" / ".stamps" / "joint.unmt.train.json").unlink()
    resumed = _unmt(cipher, "--epochs", "3", "--seeds", "1", jobs="1")
    checkpoint = work / "seed-1" / "joint" / "unmt" / "checkpoint_last.pt"
    assert f"joint.unmt.train: resuming from {checkpoint}" in resumed.stdout
    assert "Loaded checkpoint" in (work / "seed-1" / "joint" / "unmt" / "stdout.log").read_text()
    assert read_result(res / "seed-1" / "bleu.joint.aa-bb.json").rt_bleu == joint.rt_bleu


def test_mlm_driver(tmp_path):
    """``recipes/mlm_pretrain.sh`` -> ``xdomain-run mlm``: checkpoint, results and run.json, the
    arguments after ``--`` last; a rerun skips the training."""
    data = write_cipher_data(tmp_path / "cipher", n_train=400, n_valid=20, vocab_size=60, seed=1)
    out = tmp_path / "mlm"
    cmd = ["bash", REPO / "recipes" / "mlm_pretrain.sh", "--preset", "cpu", "--seed", "3",
           data, "aa,bb", out, "--", "--max-update", "2", "--tokens-per-sample", "16",
           "--max-positions", "16", "--batch-size", "8"]
    first = run(cmd, env=THREADS)
    assert "mlm.train: running" in first.stdout
    assert (out / "checkpoints" / "checkpoint_last.pt").is_file()
    assert json.loads((out / "results.json").read_text())["last_valid"] is None  # no valid split
    record = json.loads((out / "run.json").read_text())
    assert record["seed"] == 3 and record["config"]["fairseq_args"][:2] == ["--max-update", "2"]
    assert record["config"]["settings"]["fairseq"]["arch"] == "xlm_encoder_tiny"
    log = (out / "checkpoints" / "stdout.log").read_text()
    assert "| num_updates 2 |" in log, log[-2000:]
    assert "--seed 3" in log.splitlines()[0] and log.splitlines()[0].endswith("--batch-size 8")
    assert "mlm.train: up to date" in run(cmd, env=THREADS).stdout

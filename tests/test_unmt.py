"""unmt_xdomain: real fairseq-train/-generate on a substitution-cipher language pair.

The bench's setting (bench/unmt_cipher.py: 300 words per language, 20k sentences each), shorter:
fastText skipgram on the concatenated corpora (``xdomain-embed binarized``) initialises the token
embeddings of a joint ``xlm_mlm`` pre-training run (``--reload-emb``), which initialises two UNMT
runs of the same length: denoising + online back-translation, and denoising only
(``--lambda-bt 0``). Back-translation must give clearly higher BLEU in both directions;
``fairseq-generate`` and ``xdomain-eval-bleu`` on the saved checkpoint must reproduce the
validation BLEU; reloading must not need the MLM checkpoint. About 3 minutes on 2 cores.
"""
from __future__ import annotations

import re
import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest
import sacrebleu
import torch
from conftest import USER_DIR, run

from fairseq_xdomain.fairseq_log import parse_valid
from fairseq_xdomain.synthetic import write_cipher_data as make_cipher_data

THREADS = {"OMP_NUM_THREADS": "1"}  # the two UNMT runs go side by side on the 2 cores
N_VALID = 300
MLM_UPDATES = 150
UNMT_EPOCHS = 10  # of 4000 sentences: 270 updates
EPOCH_SENTENCES = 4000


@pytest.fixture(scope="module")
def cipher(tmp_path_factory):
    root = tmp_path_factory.mktemp("unmt")
    data = make_cipher_data(root / "data", n_train=20000, n_valid=N_VALID, vocab_size=300, seed=1)
    return {"root": root, "data": data}


@pytest.fixture(scope="module")
def mlm(cipher):
    emb = run(["xdomain-embed", "binarized", cipher["data"], "--langs", "aa,bb",
               "--output-dir", cipher["root"] / "fasttext", "--dim", "64", "--min-count", "1",
               "--epoch", "10", "--thread", "1", "--minn", "0", "--maxn", "0", "--no-bin"],
              env=THREADS).stdout.strip()
    save = cipher["root"] / "mlm"
    run(["fairseq-train", cipher["data"], "--user-dir", USER_DIR, "--task", "xlm_mlm",
         "--langs", "aa,bb", "--arch", "xlm_encoder_tiny", "--criterion", "xlm_mlm_loss",
         "--reload-emb", emb, "--tokens-per-sample", "64", "--optimizer", "adam", "--lr", "2e-3",
         "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "100", "--max-tokens", "4096",
         "--max-update", str(MLM_UPDATES), "--save-dir", save, "--no-epoch-checkpoints",
         "--disable-validation", "--seed", "1", "--cpu", "--num-workers", "0",
         "--log-format", "simple", "--log-interval", "100"], env=THREADS)
    return save / "checkpoint_last.pt"


def unmt_args(data, save, init, lambda_bt, epochs=UNMT_EPOCHS):
    return [
        "fairseq-train", data, "--user-dir", USER_DIR, "--task", "unmt_xdomain", "--langs", "aa,bb",
        "--arch", "unmt_transformer_tiny", "--dropout", "0", "--attention-dropout", "0",
        "--init-from-mlm", init, "--criterion", "cross_entropy", "--optimizer", "adam",
        "--lr", "8e-3", "--lr-scheduler", "inverse_sqrt", "--warmup-updates", "30",
        "--max-tokens", "1500", "--epoch-sentences", str(EPOCH_SENTENCES),
        "--max-epoch", str(epochs), "--lambda-dae", "1", "--lambda-bt", str(lambda_bt),
        "--save-dir", save, "--no-epoch-checkpoints", "--seed", "1", "--cpu", "--num-workers", "0",
        "--log-format", "simple", "--log-interval", "20",
        "--best-checkpoint-metric", "bleu", "--maximize-best-checkpoint-metric",
    ]


@pytest.fixture(scope="module")
def runs(cipher, mlm):
    def one(name, lambda_bt):
        init = cipher["root"] / f"mlm_copy_{name}.pt"
        shutil.copy(mlm, init)
        save = cipher["root"] / f"unmt_{name}"
        proc = run(unmt_args(cipher["data"], save, init, lambda_bt), env=THREADS)
        init.unlink()  # reloading a trained UNMT checkpoint must not need the MLM file
        log = proc.stdout + proc.stderr
        return {"save": save, "log": log, "curve": parse_valid(log)}

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(one, name, lbt) for name, lbt in (("bt", 1), ("no_bt", 0))}
        return {name: f.result() for name, f in futures.items()}


def test_init_from_mlm_copies_encoder_into_both_sides(cipher, tmp_path):
    """The names of docs/design.md: encoder as is, decoder layer i from encoder layer i,
    language rows by name (the UNMT --langs order is reversed on purpose). The MLM is a real
    (untrained) xlm_encoder_tiny built by the xlm_mlm task, saved as fairseq checkpoints are."""
    from argparse import Namespace

    import fairseq_xdomain

    fairseq_xdomain.register()

    from fairseq_xdomain.tasks.unmt_xdomain import UnmtXdomainConfig, UnmtXdomainTask
    from fairseq_xdomain.tasks.xlm_mlm import XLMMLMConfig, XLMMLMTask

    torch.manual_seed(0)
    mlm_task = XLMMLMTask.setup_task(XLMMLMConfig(data=str(cipher["data"]), langs="aa,bb"))
    mlm_model = mlm_task.build_model(Namespace(arch="xlm_encoder_tiny", _name="xlm_encoder_tiny"))
    mlm_path = tmp_path / "mlm.pt"
    torch.save({"model": mlm_model.state_dict(), "cfg": {"task": {"langs": "aa,bb"}}}, mlm_path)

    task = UnmtXdomainTask.setup_task(UnmtXdomainConfig(data=str(cipher["data"]), langs="bb,aa", seed=1))
    args = Namespace(arch="unmt_transformer_tiny", _name="unmt_transformer_tiny", init_from_mlm=str(mlm_path))
    model = task.build_model(args)
    state = mlm_model.state_dict()
    own = model.state_dict()
    assert torch.equal(own["encoder.embed_tokens.weight"], state["encoder.embed_tokens.weight"])
    assert torch.equal(own["decoder.embed_tokens.weight"], state["encoder.embed_tokens.weight"])
    for i in range(2):
        for part in ("self_attn.k_proj.weight", "fc1.weight", "final_layer_norm.bias"):
            assert torch.equal(own[f"encoder.layers.{i}.{part}"], state[f"encoder.layers.{i}.{part}"])
            assert torch.equal(own[f"decoder.layers.{i}.{part}"], state[f"encoder.layers.{i}.{part}"])
        # the decoder's encoder-attention is new
        assert not torch.equal(own[f"decoder.layers.{i}.encoder_attn.k_proj.weight"],
                               state[f"encoder.layers.{i}.self_attn.k_proj.weight"])
    # reloading a trained model (from_checkpoint) never reads the MLM file
    mlm_path.unlink()
    task.build_model(args, from_checkpoint=True)
    mlm_langs = state["encoder.embed_langs.weight"]
    for side in ("encoder", "decoder"):
        assert torch.equal(own[f"{side}.embed_langs.weight"][1], mlm_langs[0])
        assert torch.equal(own[f"{side}.embed_langs.weight"][0], mlm_langs[1])
    assert torch.equal(own["decoder.output_bias"], state["encoder.lm_head.bias"])


def test_greedy_translate_batched_equals_one_at_a_time(cipher):
    """A sentence leaves the decoding batch at its ``eos`` (its encoder output and cached states
    are dropped): the batch's translations are each sentence's own greedy translation. An
    untrained model, ``eos`` raised so that rows end at different steps (at once, or at their own
    length limits)."""
    from argparse import Namespace

    from fairseq.data import data_utils

    import fairseq_xdomain

    fairseq_xdomain.register()

    from fairseq_xdomain.tasks.unmt_xdomain import UnmtXdomainConfig, UnmtXdomainTask

    torch.manual_seed(0)
    task = UnmtXdomainTask.setup_task(UnmtXdomainConfig(data=str(cipher["data"]), langs="aa,bb", seed=1))
    model = task.build_model(Namespace(arch="unmt_transformer_tiny", _name="unmt_transformer_tiny"))
    model.eval()
    d = task.dictionary
    with torch.no_grad():
        model.decoder.output_bias[d.eos()] = 1.0
    lines = (cipher["data"].parent / "raw" / "train.aa").read_text(encoding="utf-8").splitlines()
    toks = [d.encode_line(line, add_if_not_exist=False, append_eos=True).long() for line in lines[:24]]
    src = data_utils.collate_tokens(toks, d.pad(), d.eos())
    src_lang, tgt_lang = torch.zeros(len(toks), dtype=torch.long), torch.ones(len(toks), dtype=torch.long)
    out = model.greedy_translate(src, src_lang, tgt_lang, banned=(task.mask_idx,))
    ends = (out.eq(d.eos()).int().argmax(1) + 1).tolist()
    assert min(ends) == 1 and len(set(ends)) >= 4, ends  # rows leave the batch at many steps
    assert out.size(1) == max(ends)
    for i, t in enumerate(toks):
        alone = model.greedy_translate(t[None], src_lang[:1], tgt_lang[:1], banned=(task.mask_idx,))[0]
        assert torch.equal(out[i, :len(alone)], alone), i
        assert out[i, len(alone):].eq(d.pad()).all(), i


def generate(data, save, src, tgt):
    return run(["fairseq-generate", data, "--user-dir", USER_DIR, "--task", "unmt_xdomain",
                "--langs", "aa,bb", "--source-lang", src, "--target-lang", tgt,
                "--path", save / "checkpoint_last.pt", "--gen-subset", "valid", "--beam", "1",
                "--max-len-a", "1.3", "--max-len-b", "5", "--max-tokens", "2000", "--cpu"],
               env=THREADS).stdout


@pytest.fixture(scope="module")
def generated(cipher, runs):
    """fairseq-generate aa->bb on the dev set with the back-translation run's saved checkpoint
    (MLM file deleted)."""
    return generate(cipher["data"], runs["bt"]["save"], "aa", "bb")


def _parse_generate(stdout):
    hyps, refs = {}, {}
    for line in stdout.splitlines():
        if line.startswith("D-"):
            sid, _, text = line.split("\t", 2)
            hyps[int(sid[2:])] = text
        elif line.startswith("T-"):
            sid, text = line.split("\t", 1)
            refs[int(sid[2:])] = text
    ids = sorted(refs)
    assert ids and sorted(hyps) == ids
    return [hyps[i] for i in ids], [refs[i] for i in ids]


def test_backtranslation_beats_denoising_alone(cipher, runs, generated):
    """Same initialisation, same updates: with online back-translation the model translates,
    while denoising alone stays near zero: it learns to copy, not to translate. Measured with
    these settings (MLM 150 updates, lr 8e-3; aa-bb / bb-aa dev BLEU by epoch): back-translation
    0.9 / 0.7 at epoch 6, 2.6 / 2.1 at 7, 5.8 / 6.0 at 8, 8.4 / 10.5 at 9, 14.1 / 14.4 at 10
    (270 updates); denoising alone 0.22 / 0.24 at 10. So the take-off may come two epochs later
    on another machine and still pass. (lr 6e-3: 5.9 / 4.8 at 8, 14.0 / 13.2 at 10; lr 4e-3:
    12.4 / 12.1 only at 11; with lr 2e-3 it came after ~430 updates, 18 epochs.)"""
    for name in runs:
        assert len(runs[name]["curve"]) == UNMT_EPOCHS, runs[name]["log"][-3000:]
    assert "bt_loss" in runs["bt"]["log"] and "bt_loss" not in runs["no_bt"]["log"]
    bt, no_bt = runs["bt"]["curve"][-1], runs["no_bt"]["curve"][-1]
    for key in ("bleu_aa_bb", "bleu_bb_aa"):
        assert bt[key] >= 3.0 and bt[key] >= no_bt[key] + 2.5, (key, bt, no_bt)
    # and the translations are made of target-language words
    raw = cipher["data"].parent / "raw"
    aa = set((raw / "train.aa").read_text(encoding="utf-8").split())
    bb = set((raw / "train.bb").read_text(encoding="utf-8").split())
    words = [w for hyp in _parse_generate(generated)[0] for w in hyp.split()]
    assert sum(w in bb - aa for w in words) / max(1, len(words)) >= 0.5


def test_generate_reproduces_validation_bleu(cipher, runs, generated):
    save = runs["bt"]["save"]
    logged = runs["bt"]["curve"][-1]
    hyps, refs = _parse_generate(generated)
    assert len(refs) == N_VALID  # every sentence of the dev set, none dropped by batching
    score = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert abs(score - logged["bleu_aa_bb"]) <= 0.5, (score, logged)

    ev = run(["xdomain-eval-bleu", save / "checkpoint_last.pt", "--direction", "bb-aa",
              "--subset", "valid", "--cpu"], env=THREADS)
    m = re.search(r"bb-aa valid: BLEU = ([\d.]+)", ev.stdout)
    assert m, ev.stdout
    assert abs(float(m.group(1)) - logged["bleu_bb_aa"]) <= 0.5, (ev.stdout, logged)
    assert "signature: nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp" in ev.stdout


def test_eval_bleu_user_errors(tmp_path):
    proc = run(["xdomain-eval-bleu", tmp_path / "missing.pt", "--direction", "aa-bb"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().endswith("missing.pt: checkpoint does not exist")
    assert "Traceback" not in proc.stderr

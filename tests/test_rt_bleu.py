"""Round-trip BLEU (``round_trip.py``, ``unmt_xdomain`` validation): model selection without
parallel data (Lample et al. 2018).

- the pure function on a known translation function equals the BLEU computed by hand, and the
  summed-statistics path (what validation logs) gives the same number;
- a real ``fairseq-train`` on a cipher pair with monolingual ``valid`` and no parallel dev set
  logs ``rt_bleu_{lang}`` / ``rt_bleu`` every validation, the value equals the pure function on
  the saved model's own translations, and ``--best-checkpoint-metric rt_bleu`` keeps the
  checkpoint of the highest value;
- two CPU ranks (gloo) log the same keys and the same values as one process.
"""
from __future__ import annotations

import math
import re

import pytest
import torch
from conftest import USER_DIR, cipher_pair_without_dev, run

from fairseq_xdomain.round_trip import (
    add_round_trip_stats,
    pivot_language,
    reduce_round_trip,
    round_trip_bleu,
)

THREADS = {"OMP_NUM_THREADS": "1"}
EPOCHS = 6


# ----------------------------------------------------------------------------- pure function


def lossy_cipher(sentences, src, tgt):
    """aa -> bb upper-cases every word; bb -> aa lower-cases it and drops the word 'E'."""
    if (src, tgt) == ("aa", "bb"):
        return [s.upper() for s in sentences]
    return [" ".join(w.lower() for w in s.split() if w != "E") for s in sentences]


def test_round_trip_bleu_equals_the_hand_computed_value():
    mono = {"aa": ["a b c d", "a b c d e"], "bb": ["F G H I J", "E F G H I"]}
    res = round_trip_bleu(mono, lossy_cipher, langs=["aa", "bb"])
    # aa: round trips "a b c d" twice, every n-gram of the hypothesis matches (precisions 1),
    # hypothesis 8 words vs reference 9: BLEU = 100 * exp(1 - 9/8) (brevity penalty only)
    assert res.per_lang["aa"] == pytest.approx(100 * math.exp(1 - 9 / 8), abs=1e-9)
    # bb: "F G H I J" comes back whole, "E F G H I" as "F G H I": 9 words vs 10
    assert res.per_lang["bb"] == pytest.approx(100 * math.exp(1 - 10 / 9), abs=1e-9)
    assert res.mean == pytest.approx(50 * (math.exp(-1 / 8) + math.exp(-1 / 9)), abs=1e-9)
    assert res.sentences == {"aa": 2, "bb": 2}
    assert "tok:13a" in res.signatures["aa"]


def test_summed_statistics_give_the_same_bleu_as_the_pure_function():
    from fairseq.logging import metrics

    mono = {"aa": ["a b c d", "a b c d e", "b c d a e e"], "bb": ["A B", "C D E"]}
    res = round_trip_bleu(mono, lossy_cipher, langs=["aa", "bb"])
    logs = []
    for part in ([0], [1, 2]):  # two batches; the second has no bb sentence (zeros)
        texts = {}
        for lang, sents in mono.items():
            chosen = [sents[i] for i in part if i < len(sents)]
            if chosen:
                back = lossy_cipher(lossy_cipher(chosen, lang, pivot_language(["aa", "bb"], lang)),
                                    pivot_language(["aa", "bb"], lang), lang)
                texts[lang] = (back, chosen)
        log = {}
        add_round_trip_stats(log, texts, ["aa", "bb"])
        logs.append(log)
    assert list(logs[0]) == list(logs[1])  # the same keys in the same order on every batch
    with metrics.aggregate(new_root=True) as agg:
        reduce_round_trip(logs)
        values = agg.get_smoothed_values()
    assert values["rt_bleu_aa"] == round(res.per_lang["aa"], 2)
    assert values["rt_bleu_bb"] == round(res.per_lang["bb"], 2)
    assert values["rt_bleu"] == round(res.mean, 2)
    assert values["rt_bleu_sents_aa"] == 3 and values["rt_bleu_sents_bb"] == 2


def test_validation_bleu_counts_a_batch_of_empty_hypotheses():
    """fairseq's validation reduces the logging outputs batch by batch and its meters sum over
    batches: a batch whose hypotheses are all empty (an early checkpoint) still counts its
    sentences and reference length. Left out, as before, 2 of 4 sentences were scored and the
    brevity penalty missed their references (BLEU 100 here instead of 31.14)."""
    import sacrebleu
    from fairseq.logging import metrics

    from fairseq_xdomain.bleu_meter import add_bleu_stats, reduce_bleu

    refs = ["a b c d e f", "b c d e f g", "c d e f g h i", "d e f g h i j"]
    hyps = ["a b c d e f", "b c d e f g", "", ""]  # batch 2: empty outputs only
    logs = []
    for part in ((0, 1), (2, 3)):
        log = {}
        add_bleu_stats(log, {("aa", "bb"): ([hyps[i] for i in part], [refs[i] for i in part])},
                       [("aa", "bb"), ("bb", "aa")])
        logs.append(log)
    with metrics.aggregate(new_root=True) as agg:
        for log in logs:  # as fairseq's Trainer.valid_step: one reduction per batch
            reduce_bleu([log])
        values = agg.get_smoothed_values()
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="13a").score
    assert expected == pytest.approx(31.14, abs=0.01)
    assert values["bleu_aa_bb"] == round(expected, 2)
    assert values["bleu_sents_aa_bb"] == 4
    assert "bleu_bb_aa" not in values  # a direction without sentences is left out


def test_pivot_language():
    assert pivot_language(["en", "fr"], "fr") == "en"
    assert pivot_language(["en", "fr", "de"], "de") == "en"


# ----------------------------------------------------------------------------- real fairseq


@pytest.fixture(scope="module")
def mono_only(tmp_path_factory):
    """Cipher pair aa/bb (400 training sentences each), monolingual valid (40 each), a parallel
    test set and NO parallel dev set."""
    root = tmp_path_factory.mktemp("rt")
    raw, data = cipher_pair_without_dev(root, n_train=400)
    return {"root": root, "raw": raw, "data": data}


def train_args(data, save, epochs=EPOCHS):
    return [data, "--user-dir", USER_DIR, "--task", "unmt_xdomain", "--langs", "aa,bb",
            "--arch", "unmt_transformer_tiny", "--dropout", "0", "--attention-dropout", "0",
            "--criterion", "cross_entropy", "--optimizer", "adam", "--lr", "3e-3",
            "--batch-size", "120", "--max-tokens", "100000", "--max-epoch", str(epochs),
            "--batch-size-valid", "16", "--lambda-dae", "1", "--lambda-bt", "1",
            "--save-dir", save, "--no-epoch-checkpoints", "--seed", "1", "--num-workers", "0",
            "--log-format", "simple", "--log-interval", "1",
            "--best-checkpoint-metric", "rt_bleu", "--maximize-best-checkpoint-metric"]


def valid_lines(log):
    return [{k: float(v) for k, v in re.findall(r"\| (\w+) ([-\d.]+)", line)}
            for line in log.splitlines() if "valid on 'valid' subset" in line]


@pytest.fixture(scope="module")
def trained(mono_only):
    save = mono_only["root"] / "save"
    proc = run(["fairseq-train", *train_args(mono_only["data"], save), "--cpu"], env=THREADS)
    return {"save": save, "rows": valid_lines(proc.stdout + proc.stderr)}


def test_rt_bleu_is_logged_every_validation_and_selects_the_best_checkpoint(trained):
    rows = trained["rows"]
    assert len(rows) == EPOCHS
    for row in rows:
        assert {"rt_bleu_aa", "rt_bleu_bb", "rt_bleu", "loss"} <= set(row)
        assert row["rt_bleu_sents_aa"] == row["rt_bleu_sents_bb"] == 40
        assert "bleu" not in row  # no parallel dev set
        assert row["rt_bleu"] == pytest.approx((row["rt_bleu_aa"] + row["rt_bleu_bb"]) / 2,
                                               abs=0.006)
    curve = [r["rt_bleu"] for r in rows]
    assert max(curve) > 0
    best = torch.load(trained["save"] / "checkpoint_best.pt", weights_only=False)
    state = best["extra_state"]
    assert state["val_loss"] == max(curve)
    # fairseq keeps the later of equal values: the last epoch reaching the maximum; a
    # checkpoint saved at the end of epoch e resumes at e + 1
    last_max = max(i for i, v in enumerate(curve) if v == max(curve)) + 1
    assert state["train_iterator"]["epoch"] == last_max + 1, curve


def test_logged_rt_bleu_equals_the_pure_function_on_the_model(trained, mono_only):
    """The validation (batched, mixed languages, summed statistics) against the pure function
    on the saved model's translations made one sentence at a time."""
    from fairseq import checkpoint_utils

    import fairseq_xdomain

    fairseq_xdomain.register()
    models, _cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(trained["save"] / "checkpoint_last.pt")],
        arg_overrides={"data": str(mono_only["data"])})
    model = models[0].eval()
    d = task.dictionary

    def translate(sentences, src, tgt):
        out = []
        for s in sentences:
            toks = d.encode_line(s, add_if_not_exist=False, append_eos=True).long()[None]
            with torch.no_grad():
                hyp = model.greedy_translate(toks, torch.tensor([task.langs.index(src)]),
                                             torch.tensor([task.langs.index(tgt)]), 1.3, 5,
                                             banned=(task.mask_idx,))[0]
            out.append(d.string(hyp[hyp.ne(d.pad())]))
        return out

    mono = {x: (mono_only["raw"] / f"valid.aa-bb.{x}").read_text().splitlines()
            for x in ("aa", "bb")}
    res = round_trip_bleu(mono, translate, langs=["aa", "bb"])
    last = trained["rows"][-1]
    assert last["rt_bleu_aa"] == pytest.approx(round(res.per_lang["aa"], 2), abs=0.011)
    assert last["rt_bleu_bb"] == pytest.approx(round(res.per_lang["bb"], 2), abs=0.011)
    assert res.mean > 0


def test_rt_bleu_two_cpu_ranks_same_keys_and_values(mono_only, tmp_path):
    save = tmp_path / "save"
    proc = run(["xdomain-train", "--nproc", "2", "--cpu", "--",
                *train_args(mono_only["data"], save, epochs=2)], env=THREADS, timeout=300)
    two = valid_lines(proc.stdout + proc.stderr)[-1]
    one = run(["fairseq-validate", mono_only["data"], "--user-dir", USER_DIR, "--task",
               "unmt_xdomain", "--langs", "aa,bb", "--criterion", "cross_entropy", "--path",
               save / "checkpoint_last.pt", "--cpu", "--max-tokens", "100000", "--batch-size",
               "16", "--num-workers", "0"], env=THREADS)
    single = valid_lines(one.stdout + one.stderr)[-1]
    for key in ("rt_bleu_aa", "rt_bleu_bb", "rt_bleu", "rt_bleu_sents_aa", "loss"):
        assert key in two and single[key] == two[key], (key, single, two)


def test_rows_of_a_mixed_batch_are_contiguous_and_trimmed():
    """The parallel / round-trip rows of one validation batch: padding trimmed to the rows
    kept, tensors contiguous (fairseq's criteria ``view`` the target)."""
    from fairseq_xdomain.datasets.lang_batch import collate
    from fairseq_xdomain.tasks.unmt_xdomain import _rows

    pad, eos = 1, 2
    items = [{"id": i, "source": torch.tensor([5] * n + [eos]), "target": torch.tensor(
        [6] * m + [eos]), "src_lang": sl, "tgt_lang": tl}
        for i, (n, m, sl, tl) in enumerate([(2, 7, 0, 1), (3, 3, 0, 0), (1, 2, 1, 1)])]
    batch = collate(items, pad, eos)
    net = batch["net_input"]
    rt = _rows(batch, net["src_langs"].eq(net["tgt_langs"]), pad)
    assert rt["nsentences"] == 2 and rt["id"].tolist() == [1, 2]
    assert rt["target"].shape == (2, 4) and rt["target"].is_contiguous()
    assert rt["net_input"]["prev_output_tokens"].is_contiguous()
    assert rt["net_input"]["src_tokens"].shape == (2, 4) and rt["ntokens"] == 7
    assert rt["target"].view(-1).numel() == 8

"""``xdomain-eval-bleu CHECKPOINT --direction en-fr``: score a UNMT checkpoint with sacrebleu.

Translates a parallel set of the binarized data (``DATA/{subset}.{a}-{b}.{lang}``) with the
``unmt_xdomain`` checkpoint, de-sentencepieces hypotheses and references exactly as validation
does, and prints the corpus BLEU with the sacrebleu signature (``--json`` also writes them,
with the configuration, to a file; ``--output`` writes the translations). Greedy by default,
like validation, so the number reproduces the validation BLEU of the same checkpoint.

Every sentence of the set is translated and scored: a source longer than the model's positions
is truncated exactly as in validation and ``fairseq-generate`` (first positions - 1 tokens and
``eos``; the reference is kept whole), and the count is printed. A file that is not a fairseq
checkpoint is a one-line error naming it. ``--direction`` is split against the checkpoint's
languages, so codes with a hyphen work (``pt-BR-en``; ``common/langcodes.py``). BLEU's tokenizer
follows the target language as sacrebleu's defaults do (``--tokenize auto``; ``bleu_meter``) and
is in the printed signature.
"""
from __future__ import annotations

import logging
import os
import sys

from .bleu_meter import TOKENIZE_CHOICES, resolve_tokenize
from .checkpoint_file import check_checkpoint_path
from .common.atomic import write_json, write_text
from .common.cli import ArgumentParser, setup_logging
from .common.errors import UserError, cli_entry
from .common.langcodes import split_direction
from .common.progress import progress

logger = logging.getLogger("xdomain-eval-bleu")


def translate_subset(checkpoint, direction, data=None, subset="test", beam=1, max_len_a=1.3,
                     max_len_b=5, max_tokens=4000, cpu=False, report=None):
    """Return (hypotheses, references) as detokenized strings, in corpus order.

    ``report`` (a dict), if given, receives ``truncated`` (sources cut to the model's
    positions) and ``max_source_len`` (that limit).
    """
    import torch

    import fairseq_xdomain

    fairseq_xdomain.register()
    from fairseq import checkpoint_utils, utils
    from fairseq.dataclass.configs import GenerationConfig

    from .checkpoint_file import read_checkpoint

    overrides = {"data": data} if data else {}
    state = read_checkpoint(checkpoint, "checkpoint",
                            loader=lambda p: checkpoint_utils.load_checkpoint_to_cpu(p, overrides))
    task_name = _task_name(state)
    if task_name != "unmt_xdomain":
        raise UserError(f"{checkpoint}: not an unmt_xdomain checkpoint (task {task_name})")
    recorded = getattr(getattr(state.get("cfg"), "task", None), "data", None)
    if not data and recorded and not os.path.isdir(recorded):
        raise UserError(f"{checkpoint}: the data folder recorded in the checkpoint, {recorded}, "
                        f"does not exist here (a relative path is read from the current folder): "
                        f"give the binarized data folder with --data DIR")
    src, tgt = split_direction(direction, checkpoint_langs(state))
    overrides.update({"source_lang": src, "target_lang": tgt})
    state["cfg"].task.source_lang, state["cfg"].task.target_lang = src, tgt
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
        [checkpoint], arg_overrides=overrides, state=state)
    use_cuda = torch.cuda.is_available() and not cpu
    for model in models:
        model.eval()
        if use_cuda:
            model.cuda()
    task.load_dataset(subset)
    dataset = task.dataset(subset)
    itr = task.get_batch_iterator(
        dataset, max_tokens=max_tokens,
        max_positions=utils.resolve_max_positions(task.max_positions(), *[m.max_positions() for m in models]),
    ).next_epoch_itr(shuffle=False)
    generator = task.build_generator(models, GenerationConfig(beam=beam, max_len_a=max_len_a, max_len_b=max_len_b))
    hyps, refs = {}, {}
    for sample in progress(itr, desc=f"translating {subset} {direction}", unit=" batches",
                           unit_scale=False):
        if use_cuda:
            sample = utils.move_to_cuda(sample)
        out = task.inference_step(generator, models, sample)
        for i, sid in enumerate(sample["id"].tolist()):
            hyps[sid] = task._decode(out[i][0]["tokens"])
            refs[sid] = task._decode(utils.strip_pad(sample["target"][i], task.dictionary.pad()), escape_unk=True)
    ids = sorted(hyps)
    if len(ids) != len(dataset):
        raise UserError(f"{checkpoint}: translated {len(ids)} of {len(dataset)} sentences")
    if report is not None:
        report["src"], report["tgt"] = src, tgt
        report["truncated"] = sum(dataset.truncated.values())
        report["max_source_len"] = int(dataset.max_len)
    return [hyps[i] for i in ids], [refs[i] for i in ids]


def checkpoint_langs(state) -> list[str]:
    """The languages (``--langs``, in order) of a loaded unmt_xdomain checkpoint."""
    from .tasks.shared import parse_langs

    return parse_langs(state["cfg"].task.langs, minimum=2)


def _task_name(state) -> str | None:
    """The task a loaded checkpoint was trained with (``cfg.task._name`` or old ``args.task``)."""
    cfg = state.get("cfg")
    if cfg is not None:
        task = cfg.get("task") if hasattr(cfg, "get") else None
        return task.get("_name") if hasattr(task, "get") else None
    return getattr(state.get("args"), "task", None)


@cli_entry
def main(argv=None):
    ap = ArgumentParser(prog="xdomain-eval-bleu", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="an unmt_xdomain checkpoint (checkpoint_best.pt)")
    ap.add_argument("--direction", required=True, help="SRC-TGT, e.g. en-fr")
    ap.add_argument("--data", help="binarized data folder (default: the one the checkpoint was trained on)")
    ap.add_argument("--subset", default="test", help="parallel set: test (default) or valid")
    ap.add_argument("--beam", type=int, default=1, help="beam size")
    ap.add_argument("--max-len-a", type=float, default=1.3,
                    help="longest translation: a * source length + b, this is a")
    ap.add_argument("--max-len-b", type=int, default=5, help="... and this is b")
    ap.add_argument("--max-tokens", type=int, default=4000, help="tokens per batch")
    ap.add_argument("--cpu", action="store_true", help="do not use CUDA even when available")
    ap.add_argument("--output", "-o", help="write the translations here, one per line")
    ap.add_argument("--json", help="write {bleu, signature, config} here")
    ap.add_argument("--tokenize", default="auto", metavar="TOK",
                    help="sacrebleu tokenizer: auto (default: the target language's sacrebleu "
                         "default, as validation: zh, ja-mecab, ko-mecab, else 13a) or one of "
                         f"{', '.join(TOKENIZE_CHOICES[1:])}")
    args = ap.parse_args(argv)
    setup_logging(logging.WARNING)
    from sacrebleu.metrics import BLEU

    report = {}
    resolve_tokenize(args.tokenize, "en")  # an unknown name is refused before any work
    check_checkpoint_path(args.checkpoint)  # and a missing file before torch and fairseq load
    hyps, refs = translate_subset(args.checkpoint, args.direction, args.data, args.subset, args.beam,
                                  args.max_len_a, args.max_len_b, args.max_tokens, args.cpu, report)
    bleu = BLEU(tokenize=resolve_tokenize(args.tokenize, report["tgt"]))
    score = bleu.corpus_score(hyps, [refs])
    signature = str(bleu.get_signature())
    cut = (f", {report['truncated']} of them with the source truncated to "
           f"{report['max_source_len']} tokens" if report["truncated"] else "")
    print(f"{args.direction} {args.subset}: {score} ({len(hyps)} sentences{cut})")
    print(f"signature: {signature}")
    if args.output:
        write_text(args.output, "".join(h + "\n" for h in hyps))
    if args.json:
        write_json(args.json, {"bleu": round(score.score, 2), "signature": signature,
                               "sentences": len(hyps), "truncated_sources": report["truncated"],
                               "max_source_len": report["max_source_len"], "config": vars(args)})
    return 0


if __name__ == "__main__":
    sys.exit(main())

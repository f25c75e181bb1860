"""``xdomain-ubli``: unsupervised bilingual lexicon induction and its baselines.

    xdomain-ubli align --src-emb en.vec --tgt-emb fr.vec --out DIR [--dico-eval en-fr.txt]
                       [--seed S --epochs E --refinement R --epoch-size N ...]
    xdomain-ubli baseline --method copy|identical|ortho --src-emb en.vec --tgt-emb fr.vec
                       --dico-eval en-fr.txt --out DIR [--pair en-fr --domains Wiki-UN
                       --init separate|joint]
    xdomain-ubli grid ...       (the grid search: see ``xdomain-ubli grid --help``)
    xdomain-ubli evaluate --src-emb S.vec --tgt-emb T.vec [--mapping W.npy] --dico-eval D
                       [--out DIR]   (score a given map, identity by default: ubli/evaluate_cmd.py)

``align`` writes DIR/W.pt and W.npy (the selected map, ``mapped = src @ W``), DIR/src.mapped.vec and
DIR/tgt.vec, DIR/results.json (a ``UBLIResult``: ``config`` with the seed, ``metrics`` = the
evaluation, ``selected`` = epoch and refinement, ``details`` = criterion per epoch, refinement
steps, timings) and DIR/results.md; it checkpoints after every adversarial epoch and
resumes from DIR/checkpoint.pt when restarted with the same configuration.

Refinement (both subcommands) induces its dictionary with ``--dico-build``: ``S2T``, ``T2S``,
their intersection ``S2T&T2S`` (mutual pairs) or union ``S2T|T2S``. When the induced dictionary
has fewer pairs than the embedding dimension, refinement stops with a warning giving the count and
the map from before that iteration is kept. Flag values are checked before any file is read.

``baseline`` writes DIR/baseline_{METHOD}.json, a :class:`~fairseq_xdomain.results.UBLIResult`
read by ``xdomain-report`` (``method``, and ``pair``/``domains``/``init`` from the flags, null when
not given), and DIR/baseline_{METHOD}.md. Every result file here is written through
:func:`fairseq_xdomain.results.write_result` (schema in ``fairseq_xdomain/results.py``).
"""
from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import torch

from ..common.atomic import atomic_open, read_json
from ..common.dataclass_args import add_dataclass_arguments, dataclass_from_args
from ..common.errors import UserError, check_minimums, cli_entry
from ..results import UBLIResult, add_label_arguments, labels_from_args, write_result
from .adversarial import AdversarialConfig, BatchedAdversarial
from .align import (
    adversarial_train,
    check_adversarial_config,
    identical_pairs,
    refine_and_select,
    save_mapping,
    select_run,
    selection_blocks,
    supervised_procrustes,
)
from .csls import BACKENDS
from .data import NORMALIZATIONS, add_max_vocab_argument, clamp_rank, load_pair
from .evaluate_cmd import add_evaluate_arguments, cmd_evaluate
from .evaluation import (
    copy_baseline,
    evaluate_translation,
    load_checked_dictionary,
    load_dictionary,
    require_coverage,
)
from .grid import DESCRIPTION as GRID_DESCRIPTION
from .grid import add_grid_arguments
from .grid import main as grid_main
from .history import histories_from_dicts, histories_to_dicts
from .orthography import ortho_baseline
from .reallocation import add_reallocate_parser, cmd_reallocate
from .refinement import RefinementConfig
from .selection import add_selection_arguments, decide_identity, mean_cosine_criterion

logger = logging.getLogger("xdomain-ubli")


def _common(p):
    p.add_argument("--src-emb", required=True)
    p.add_argument("--tgt-emb", required=True)
    add_max_vocab_argument(p)
    p.add_argument("--dico-eval", default=None, help="MUSE-format test dictionary ('src tgt' lines)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--normalize-embeddings", default="", choices=NORMALIZATIONS)
    p.add_argument("--knn-backend", default="auto", choices=BACKENDS)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--cpu", action="store_true", help="do not use CUDA even when available")
    p.add_argument("--no-progress", action="store_true")
    add_dataclass_arguments(p, RefinementConfig)  # --refinement, --dico-*, --csls-k, ...
    p.add_argument("--no-export", action="store_true", help="do not write the mapped .vec files")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``xdomain-ubli`` (``grid`` is listed; :func:`main` hands it its own)."""
    parser = argparse.ArgumentParser(prog="xdomain-ubli", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("align", help="adversarial training + refinement (MUSE, unsupervised)")
    _common(p)
    p.add_argument("--seed", type=int, default=0)
    add_dataclass_arguments(p, AdversarialConfig)  # --epochs, --epoch-size, --dis-*, ...
    from .self_learning_cmd import add_self_learning_arguments  # --method, --sl-*

    add_self_learning_arguments(p)
    add_selection_arguments(p)  # --selection, --identity-candidate (ubli/selection.py)
    add_label_arguments(p)  # --pair, --domains, --init (results.py)
    p = sub.add_parser("baseline", help="copy baseline, or identical-strings supervised Procrustes")
    _common(p)
    p.add_argument("--method", required=True, choices=("copy", "identical", "ortho"),
                   help="ortho: the target word with the most similar spelling (character "
                        "n-grams, no embeddings; see ubli/orthography.py)")
    add_label_arguments(p)
    p = sub.add_parser("grid", help="the paper's grid search: seeds x epochs x refinements, "
                       "selected by the unsupervised criterion", description=GRID_DESCRIPTION)
    add_grid_arguments(p)
    p = sub.add_parser("evaluate", help="score a given map (default: identity) on a test "
                       "dictionary with the evaluator of align/grid")
    add_evaluate_arguments(p)
    add_reallocate_parser(sub)  # xdomain-ubli reallocate (ubli/reallocation.py)
    return parser


def _labels(args) -> dict:
    """Report labels of a baseline run; unknown ones are null (never guessed)."""
    return {**labels_from_args(args), "method": args.method}


def _setup(args):
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    logger.info("device: %s", device)
    return device


def _clamp(name, value, n_src, n_tgt):
    return value if n_src is None else clamp_rank(name, value, n_src, n_tgt)


def _ref_cfg(args, n_src=None, n_tgt=None):
    """The refinement configuration of the flags, checked; ranks clamped to the vocabularies
    when their sizes are given (called once without them to check before loading anything)."""
    return dataclass_from_args(
        RefinementConfig, args,
        dico_max_rank=_clamp("--dico-max-rank", args.dico_max_rank, n_src, n_tgt),
        criterion_max_rank=_clamp("--criterion-max-rank", args.criterion_max_rank, n_src, n_tgt),
    ).check()


def _adv_cfg(args, n_src=None, n_tgt=None):
    """The adversarial configuration of the ``align`` flags, checked (see ``_ref_cfg``)."""
    return check_adversarial_config(dataclass_from_args(
        AdversarialConfig, args,
        dis_most_frequent=_clamp("--dis-most-frequent", args.dis_most_frequent, n_src, n_tgt)))


def _check_common(args):
    """Checks of the flags both subcommands share, before any file is read."""
    check_minimums((("--max-vocab", args.max_vocab, 1), ("--threads", args.threads, 0)))
    _ref_cfg(args)


def _export(args, out, src_wv, tgt_wv, src, tgt, W):
    from ..embeddings.vecio import save_vec

    with atomic_open(out / "W.pt", "wb") as handle:
        torch.save(W.cpu(), handle)
    save_mapping(out / "W.npy", W)
    if not args.no_export:
        save_vec(out / "src.mapped.vec", src_wv.words, (src @ W).cpu().numpy())
        save_vec(out / "tgt.vec", tgt_wv.words, tgt.cpu().numpy())


def _evaluate(args, src_wv, tgt_wv, src, tgt, W, dico=None):
    if not args.dico_eval:
        return None
    dico = load_dictionary(args.dico_eval) if dico is None else dico
    return evaluate_translation(src @ W, tgt, src_wv.word2id, tgt_wv.word2id, dico,
                                k_csls=args.csls_k, backend=args.knn_backend)


def _words(src_wv, tgt_wv) -> dict:
    """Vocabulary counts for a result's ``details``."""
    return {"n_src_words": len(src_wv), "n_tgt_words": len(tgt_wv),
            "n_src_duplicates": src_wv.n_duplicates, "n_tgt_duplicates": tgt_wv.n_duplicates}


def cmd_align(args):
    if args.method == "self-learning":  # Artetxe et al. 2018: ubli/self_learning_cmd.py
        from .self_learning_cmd import cmd_align_self_learning

        return cmd_align_self_learning(args)
    _check_common(args)
    _adv_cfg(args)
    device = _setup(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src_wv, tgt_wv, src, tgt = load_pair(args.src_emb, args.tgt_emb, args.max_vocab,
                                         args.normalize_embeddings)
    if args.dico_eval:  # fail early on a bad dictionary, not after training
        require_coverage(load_dictionary(args.dico_eval), src_wv.word2id, tgt_wv.word2id)
    src, tgt = src.to(device), tgt.to(device)
    adv = _adv_cfg(args, len(src_wv), len(tgt_wv))
    ref = _ref_cfg(args, len(src_wv), len(tgt_wv))
    config = {"command": "align", "src_emb": os.fspath(args.src_emb),
              "tgt_emb": os.fspath(args.tgt_emb), "max_vocab": args.max_vocab,
              "normalize_embeddings": args.normalize_embeddings, "seed": args.seed,
              "adversarial": adv.to_dict(), "refinement": ref.to_dict(),
              "knn_backend": args.knn_backend, "dico_eval": args.dico_eval}
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    trainer = BatchedAdversarial(src, tgt, [args.seed], adv, device=device)
    ckpt_path = out / "checkpoint.pt"
    start_epoch, history = 0, None
    if ckpt_path.exists():
        from ..compat import load_trusted_checkpoint

        ckpt = load_trusted_checkpoint(ckpt_path)
        if ckpt["config"] == config:
            trainer.load_state_dict(ckpt["trainer"])
            start_epoch, history = ckpt["epoch"], histories_from_dicts(ckpt["history"])
            logger.info("resuming from %s after epoch %d", ckpt_path, start_epoch)
        else:
            logger.warning("%s has another configuration: starting afresh", ckpt_path)

    def save_ckpt(epoch, tr, hist):
        with atomic_open(ckpt_path, "wb") as handle:
            torch.save({"config": config, "epoch": epoch, "trainer": tr.state_dict(),
                        "history": histories_to_dicts(hist)}, handle)

    history = adversarial_train(src, tgt, [args.seed], adv, crit_max_rank=ref.criterion_max_rank,
                                k_csls=ref.k_csls, backend=args.knn_backend,
                                progress=not args.no_progress, trainer=trainer,
                                start_epoch=start_epoch, history=history, on_epoch=save_ckpt)
    h = history[0]
    t_adv = time.perf_counter() - t0
    identity, joint = decide_identity(args.identity_candidate, src_wv.words, tgt_wv.words,
                                      src_wv.vectors, tgt_wv.vectors)
    W, fields = select_run(src, tgt, h, args.epochs, ref, rule=args.selection, identity=identity,
                           backend=args.knn_backend, progress=not args.no_progress)
    crit, (selected, sel_details) = fields["criterion"], selection_blocks(fields)
    evaluation = _evaluate(args, src_wv, tgt_wv, src, tgt, W)
    _export(args, out, src_wv, tgt_wv, src, tgt, W)
    result = UBLIResult(
        **labels_from_args(args),
        method="muse", p_at_1=(evaluation or {}).get("csls_p@1"), metrics=evaluation or {},
        criterion=crit, config=config, wall_s=time.perf_counter() - t0,
        selected=selected,
        details={"criterion_per_epoch": h.criterion, "map_lr_per_epoch": h.lr,
                 **sel_details, "joint_space": joint, "adversarial_epoch_time_s": h.epoch_time_s,
                 "adversarial_time_s": t_adv, "adversarial_lr_stop": h.lr_stop(args.epochs),
                 **_words(src_wv, tgt_wv), "outputs": {"W": os.fspath(out / "W.pt")}})
    write_result(out / "results.json", result)
    _print_result(result)
    return result


def _print_result(result: UBLIResult) -> None:
    """One line: criterion, selected epoch/refinement, P@1 (%) (and the orthography-aware
    retrieval's with its weight, when scored), coverage (fraction)."""
    ev = result.metrics
    parts = [f"criterion {result.criterion:.4f}"]
    if result.selected.get("candidate") == "identity":
        parts.append("candidate identity")
    elif result.selected.get("epoch") is not None:
        parts.append(f"epoch {result.selected['epoch']}")
    if "refinement" in result.selected:
        parts.append(f"refinement {result.selected['refinement']}")
    for k in ("csls_p@1", "nn_p@1", "copy_p@1"):
        if k in ev:
            parts.append(f"{k} {ev[k]:.2f}")
    if "csls_ortho_p@1" in ev:  # orthography-aware retrieval (--ortho-weight)
        parts.append(f"csls_ortho_p@1 {ev['csls_ortho_p@1']:.2f} (w = {ev['ortho_weight']:g})")
    if "coverage" in ev:
        parts.append(f"coverage {ev['coverage']:.3f}")
    print(", ".join(parts))


def cmd_baseline(args):
    labels = _labels(args)
    _check_common(args)
    device = _setup(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.dico_eval and args.method in ("copy", "ortho"):
        raise UserError(f"--method {args.method} needs --dico-eval")
    src_wv, tgt_wv, src, tgt = load_pair(args.src_emb, args.tgt_emb, args.max_vocab,
                                         args.normalize_embeddings)
    config = {"command": "baseline", "method": args.method, "src_emb": os.fspath(args.src_emb),
              "tgt_emb": os.fspath(args.tgt_emb), "max_vocab": args.max_vocab,
              "dico_eval": args.dico_eval, "normalize_embeddings": args.normalize_embeddings}
    t0 = time.perf_counter()
    if args.method == "copy":
        evaluation = copy_baseline(load_dictionary(args.dico_eval), src_wv.word2id, tgt_wv.word2id)
        result = UBLIResult(**labels, p_at_1=evaluation["copy_p@1"], metrics=evaluation,
                            config=config)
        if evaluation["n_covered"] == 0:
            raise UserError(f"{args.dico_eval}: no dictionary pair is covered by the vocabularies")
    elif args.method == "ortho":  # spelling only: the vectors are not used
        evaluation = ortho_baseline(load_dictionary(args.dico_eval), src_wv.word2id,
                                    tgt_wv.word2id)
        result = UBLIResult(**labels, p_at_1=evaluation["ortho_p@1"], metrics=evaluation,
                            config=config)
    else:
        src, tgt = src.to(device), tgt.to(device)
        pairs = identical_pairs(src_wv.words, tgt_wv.words)
        if not pairs:
            raise UserError(f"{args.tgt_emb}: no word is spelled identically in both vocabularies "
                            f"({args.src_emb})")
        dico = load_checked_dictionary(args.dico_eval, src_wv.word2id, tgt_wv.word2id)
        ref = _ref_cfg(args, len(src_wv), len(tgt_wv))
        config["refinement"] = ref.to_dict()
        W0 = supervised_procrustes(src, tgt, pairs)
        crit0 = mean_cosine_criterion(src @ W0, tgt, max_rank=ref.criterion_max_rank,
                                      k_csls=ref.k_csls, backend=args.knn_backend)
        W, crit, ref_it, ref_records = refine_and_select(src, tgt, W0, crit0, ref,
                                                         backend=args.knn_backend,
                                                         progress=not args.no_progress)
        evaluation = _evaluate(args, src_wv, tgt_wv, src, tgt, W, dico)
        _export(args, out, src_wv, tgt_wv, src, tgt, W)
        evaluation = evaluation or {}
        result = UBLIResult(**labels, p_at_1=evaluation.get("csls_p@1"), metrics=evaluation,
                            criterion=crit, config=config, selected={"refinement": ref_it},
                            details={"n_seed_pairs": len(pairs), "procrustes_criterion": crit0,
                                     "refinement": ref_records})
    result.wall_s = time.perf_counter() - t0
    name = f"baseline_{args.method}"
    write_result(out / f"{name}.json", result)
    if args.method == "copy":
        ev = result.metrics
        print(f"copy_p@1 {ev['copy_p@1']:.2f} (all {ev['copy_p@1_all']:.2f}), "
              f"coverage {ev['coverage']:.3f}")
    elif args.method == "ortho":
        ev = result.metrics
        print(f"ortho_p@1 {ev['ortho_p@1']:.2f} (all {ev['ortho_p@1_all']:.2f}), "
              f"ortho_p@1_nonident {ev['ortho_p@1_nonident']:.2f}, "
              f"coverage {ev['coverage']:.3f}")
    else:
        _print_result(result)
    return result


@cli_entry
def main(argv: list[str] | None = None) -> int:
    """``xdomain-ubli``; returns 0, exits 2 with a one-line message on a ``UserError``."""
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "grid":  # the grid parses its own flags (its parser is listed above)
        return grid_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.cmd == "align":
        cmd_align(args)
    elif args.cmd == "evaluate":
        cmd_evaluate(args)
    elif args.cmd == "reallocate":
        cmd_reallocate(args)
    else:
        cmd_baseline(args)
    return 0


__all__ = ["main", "read_json"]


if __name__ == "__main__":
    import sys

    sys.exit(main())

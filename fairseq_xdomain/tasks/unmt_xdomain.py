"""fairseq task ``unmt_xdomain``: unsupervised NMT by denoising + online back-translation.

Data (docs/design.md): ``DATA/dict.txt`` (+ ``<mask>``), ``DATA/{lang}/train.{bin,idx}``
monolingual, ``DATA/{split}.{a}-{b}.{lang}.{bin,idx}`` parallel dev/test (served in both
directions), optional ``DATA/spm.model`` (then output is de-sentencepieced for BLEU and noise works
on whole words).

One training batch holds monolingual sentences of all languages (ids in ``--langs`` order);
``train_step`` makes from it
- a denoising batch: noisy sentence -> clean sentence, same language (``noise.add_noise``,
  fresh noise every epoch), weighted by ``--lambda-dae``;
- a back-translation batch: the current model (unwrapped, eval mode, no grad; greedy or
  ``--bt-beam``; max length a*len+b) translates each sentence into the other language, then
  (synthetic source -> real sentence) is trained, weighted by ``--lambda-bt``.
Both losses go into one backward call, so every DDP rank makes the same calls every step.

A thin fairseq adapter: the datasets are in ``datasets/`` (``monolingual_noisy``,
``parallel_lang``; batches of ``datasets.lang_batch.collate``: ``net_input.src_langs`` and
``tgt_langs``, LongTensor [B]), the BLEU meter in ``bleu_meter``.

Validation: loss and BLEU per direction (sacrebleu on detokenized, de-sentencepieced text),
logged as ``bleu_{src}_{tgt}`` (over ``bleu_sents_{src}_{tgt}`` sentences: all of the set) and
their mean ``bleu`` (use ``--best-checkpoint-metric bleu --maximize-best-checkpoint-metric``).
Round-trip BLEU (on unless ``--no-rt-bleu``; Lample et al. 2018's model selection without
parallel data, ``round_trip.py``): where ``DATA/{lang}/{split}.bin`` exists (the monolingual
``valid`` of docs/design.md), each of its sentences is translated into the other language and
back (greedy or ``--bt-beam``, the back-translation length rule ``--bt-max-len-a/b``) and scored
against itself, logged as ``rt_bleu_{lang}`` and their mean ``rt_bleu`` (``--best-checkpoint-metric
rt_bleu --maximize-best-checkpoint-metric``); the same keys on every batch and DDP rank. Those
sentences join the validation set as items with ``src_lang == tgt_lang``; the validation loss
stays that of the parallel pairs, or, when no validation split has a parallel set, is the loss of
the round trip's second leg (translation -> original, as back-translation trains it).
Dev/test sets are never filtered: a source longer than ``--max-source-positions`` or the model's
positions keeps its first ``limit - 1`` tokens and ``eos``, counted and logged per direction
(``N of M source sentences truncated to P tokens``), the same way in validation,
``fairseq-generate``, ``fairseq-interactive`` and ``xdomain-eval-bleu`` (``ParallelLangDataset``,
``get_batch_iterator``); references are never cut (a reference longer than the decoder's
positions adds only its first positions to the validation loss, all of it to BLEU).

Inference: ``--source-lang/--target-lang`` pick the direction for ``fairseq-generate`` and
``fairseq-interactive`` (``build_dataset_for_inference``).
The decoder always starts from ``eos`` with the target language embedding added at every step.

``--init-from-mlm``: the model starts from an ``xlm_mlm`` checkpoint; without ``--max-positions``
it takes the MLM's (logged), a bigger ``--max-positions`` than the MLM's is a one-line error; an
MLM of other sizes, dictionary, depth or languages is a one-line error naming both sides, unless
``--init-from-mlm-partial layers,langs`` allows a partial load of the depth or languages
(``mlm_checkpoint``).
"""
import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
from fairseq import metrics, utils
from fairseq.data import Dictionary, data_utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import register_task
from omegaconf import II

from ..bleu_meter import add_bleu_stats, reduce_bleu
from ..bleu_meter import signature as bleu_signature
from ..common.errors import UserError
from ..datasets.lang_batch import TokensListDataset, clip_target_for_loss, min_limit
from ..datasets.monolingual_noisy import MonolingualNoisyDataset
from ..datasets.parallel_lang import ParallelLangDataset
from ..distributed import trace_train_step, unwrap_model
from ..lambda_schedule import PiecewiseLinear
from ..mlm_checkpoint import MLMCheckpoint, init_unmt_from_mlm, parse_partial
from ..noise import NoiseConfig, word_start_table
from ..round_trip import add_round_trip_stats, pivot_language, reduce_round_trip
from .shared import JointDictionaryTask, parse_langs

logger = logging.getLogger(__name__)

@dataclass
class UnmtXdomainConfig(FairseqDataclass):
    data: Optional[str] = field(  # noqa: UP045 (fairseq reads the type)
       default=None, metadata={"help": "binarized data folder (docs/design.md)"})
    langs: str = field(default="en,fr", metadata={"help": "languages, comma-separated; ids in this order"})
    source_lang: Optional[str] = field(  # noqa: UP045
        default=None, metadata={"help": "direction for generate/interactive/validation (default: all)"})
    target_lang: Optional[str] = field(  # noqa: UP045
        default=None, metadata={"help": "see --source-lang"})
    lambda_dae: str = field(default="0:1,100000:0.1,300000:0",
                            metadata={"help": "denoising weight schedule 'update:weight,...' (XLM)"})
    lambda_bt: str = field(default="1", metadata={"help": "back-translation weight schedule"})
    bt_beam: int = field(default=1, metadata={"help": "beam for back-translation (1 = greedy)"})
    bt_max_len_a: float = field(default=1.3, metadata={"help": "BT max length = a * src_len + b"})
    bt_max_len_b: int = field(default=5, metadata={"help": "see --bt-max-len-a"})
    word_shuffle: float = field(default=3.0, metadata={"help": "max word shuffle distance (0: off)"})
    word_dropout: float = field(default=0.1, metadata={"help": "word dropout probability"})
    word_blank: float = field(default=0.1, metadata={"help": "word blanking (<mask>) probability"})
    word_boundaries: ChoiceEnum(["auto", "sentencepiece", "token"]) = field(
        default="auto", metadata={"help": "noise word units: sentencepiece '▁' words or every token "
                                          "(auto: sentencepiece if the dictionary has '▁' pieces)"})
    epoch_sentences: int = field(
        default=0, metadata={"help": "sentences per epoch over all languages (paper: 200000; "
                                     "0 = every sentence once)"})
    max_source_positions: int = field(default=256, metadata={"help": "longer sentences are truncated"})
    max_target_positions: int = field(default=256, metadata={"help": "max target length"})
    eval_bleu: bool = field(default=True, metadata={"help": "BLEU per direction at validation"})
    eval_beam: int = field(default=1, metadata={"help": "beam for validation BLEU"})
    no_rt_bleu: bool = field(
        default=False, metadata={"help": "no round-trip BLEU at validation (default: rt_bleu_{lang} "
                                         "and rt_bleu on the monolingual DATA/{lang}/valid where "
                                         "it exists; model selection without parallel data)"})
    bleu_tokenize: str = field(
        default="auto", metadata={"help": "sacrebleu tokenizer of validation BLEU (auto: the target "
                                          "language's sacrebleu default: zh, ja-mecab, ko-mecab, "
                                          "else 13a; bleu_meter.TOKENIZE_CHOICES)"})
    eval_bleu_print_samples: bool = field(default=False, metadata={"help": "log one translation per batch"})
    seed: int = II("common.seed")


@register_task("unmt_xdomain", dataclass=UnmtXdomainConfig)
class UnmtXdomainTask(JointDictionaryTask):
    cfg: UnmtXdomainConfig

    def __init__(self, cfg: UnmtXdomainConfig, dictionary: Dictionary, spm_model: "str | None"):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.mask_idx = dictionary.index("<mask>")
        self.langs = parse_langs(cfg.langs, minimum=2)
        self.spm_model = spm_model
        if cfg.word_boundaries == "auto":
            spm_words = None
        else:
            spm_words = cfg.word_boundaries == "sentencepiece"
        self.word_start = word_start_table(dictionary.symbols, dictionary.nspecial, spm_words)
        self.sentencepiece = bool((~self.word_start).any()) or spm_model is not None
        self.noise = NoiseConfig(cfg.word_shuffle, cfg.word_dropout, cfg.word_blank)
        self.lambda_dae = PiecewiseLinear.parse(cfg.lambda_dae, "--lambda-dae")
        self.lambda_bt = PiecewiseLinear.parse(cfg.lambda_bt, "--lambda-bt")
        if cfg.eval_bleu:  # the tokenizer of each target, checked and logged before training
            for lang in self.langs:
                logger.info("validation BLEU into %s: %s", lang, bleu_signature(cfg.bleu_tokenize, lang))
        for opt in ("source_lang", "target_lang"):
            lang = getattr(cfg, opt)
            if lang is not None and lang not in self.langs:
                raise UserError(f"--{opt.replace('_', '-')}: {lang!r} is not one of --langs {cfg.langs}")
        self._bt_generator = None
        self._eval_generator = None
        self._split_parallel: dict[str, bool] = {}  # validation split -> has a parallel set
        self._has_rt = False  # a validation split holds round-trip items

    @classmethod
    def setup_task(cls, cfg: UnmtXdomainConfig, **kwargs):
        if not cfg.data:
            raise UserError("unmt_xdomain: give the binarized data folder (DATA)")
        data = utils.split_paths(cfg.data)[0]
        dict_path = os.path.join(data, "dict.txt")
        if not os.path.isfile(dict_path):
            raise UserError(f"{dict_path}: joint dictionary does not exist (see docs/design.md)")
        dictionary = Dictionary.load(dict_path)
        dictionary.add_symbol("<mask>")
        spm = os.path.join(data, "spm.model")
        task = cls(cfg, dictionary, spm if os.path.isfile(spm) else None)
        logger.info(f"unmt_xdomain: langs {task.langs}, dictionary {len(dictionary)} types, "
                    f"noise words = {'sentencepiece' if task.sentencepiece else 'tokens'}")
        return task

    # ------------------------------------------------------------------ data
    def max_positions(self):
        return (self.cfg.max_source_positions, self.cfg.max_target_positions)

    def _load(self, prefix, lang=None):
        ds = data_utils.load_indexed_dataset(prefix, self.dictionary)
        if ds is None:
            hint = ""
            if lang is not None:  # monolingual training data of one of --langs
                root = os.path.dirname(os.path.dirname(prefix))
                have = sorted(d for d in os.listdir(root)
                              if os.path.isfile(os.path.join(root, d, os.path.basename(prefix) + ".bin")))
                hint = (f" (--langs has '{lang}'; the data has "
                        f"{', '.join(have) if have else 'no language'})")
            raise UserError(f"{prefix}.bin: binarized data does not exist{hint}")
        return ds

    def _directions(self):
        if self.cfg.source_lang and self.cfg.target_lang:
            return [(self.cfg.source_lang, self.cfg.target_lang)]
        if self.cfg.source_lang or self.cfg.target_lang:
            raise UserError("give both --source-lang and --target-lang, or neither")
        return [(a, b) for a in self.langs for b in self.langs if a != b]

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        data = utils.split_paths(self.cfg.data)[0]
        if split.startswith("train"):
            parts = [(i, self._load(os.path.join(data, lang, split), lang))
                     for i, lang in enumerate(self.langs)]
            for (_, ds), lang in zip(parts, self.langs):
                logger.info(f"{split} {lang}: {len(ds)} monolingual sentences")
            self.datasets[split] = MonolingualNoisyDataset(
                parts, self.dictionary, self.word_start, self.mask_idx, self.noise, self.cfg.seed,
                self.cfg.epoch_sentences, self.cfg.max_source_positions,
            )
            return
        directions, names = [], []
        rt = self._round_trip_parts(data, split)
        for src, tgt in self._directions():
            a, b = sorted((src, tgt))
            stem = os.path.join(data, f"{split}.{a}-{b}")
            if not os.path.exists(f"{stem}.{src}.bin"):
                if len(self._directions()) == 1 and not rt:
                    raise UserError(f"{stem}.{src}.bin: no parallel {split} set for {src}-{tgt}")
                continue
            directions.append((self._load(f"{stem}.{src}"), self._load(f"{stem}.{tgt}"),
                               self.langs.index(src), self.langs.index(tgt)))
            names.append(f"{split} {src}-{tgt}")
            logger.info(f"{split} {src}-{tgt}: {len(directions[-1][0])} sentence pairs")
        self._split_parallel[split] = bool(directions)
        self._has_rt = self._has_rt or bool(rt)
        for ds, lang in rt:
            i = self.langs.index(lang)
            directions.append((ds, ds, i, i))
            names.append(f"{split} {lang} round trip")
            logger.info(f"{split} {lang}: {len(ds)} monolingual sentences for round-trip BLEU")
        if not directions:
            have = sorted(f[:-4] for f in os.listdir(data)
                          if f.startswith(f"{split}.") and f.endswith(".bin"))
            raise UserError(f"{data}: no parallel '{split}' set ({split}.{{a}}-{{b}}.{{lang}}.bin) "
                            f"for --langs {','.join(self.langs)} (the data has "
                            f"{', '.join(have) if have else 'none'})")
        self.datasets[split] = ParallelLangDataset(directions, self.dictionary,
                                                   self.cfg.max_source_positions, names)

    def _round_trip_parts(self, data: str, split: str) -> list:
        """[(dataset, lang)]: the monolingual ``DATA/{lang}/{split}`` of every language that has
        one (none with ``--no-rt-bleu``, or with ``--source-lang/--target-lang``: one
        direction is translated, e.g. by ``xdomain-eval-bleu``)."""
        if self.cfg.no_rt_bleu or (self.cfg.source_lang and self.cfg.target_lang):
            return []
        return [(self._load(os.path.join(data, lang, split)), lang) for lang in self.langs
                if os.path.exists(os.path.join(data, lang, f"{split}.bin"))]

    def get_batch_iterator(self, dataset, max_tokens=None, max_sentences=None, max_positions=None,
                           **kwargs):
        """fairseq's iterator, after fitting the data to ``max_positions`` (task and model).

        Every batch of the task (training, validation, generate, interactive, eval-bleu) is made
        here, so every path truncates the same sentences the same way
        (``datasets.lang_batch.with_eos``).
        """
        if isinstance(dataset, (ParallelLangDataset, MonolingualNoisyDataset)):
            dataset.limit_positions(max_positions)
        return super().get_batch_iterator(dataset, max_tokens, max_sentences, max_positions,
                                          **kwargs)

    def build_dataset_for_inference(self, src_tokens, src_lengths, constraints=None, **kwargs):
        if not (self.cfg.source_lang and self.cfg.target_lang):
            raise UserError("unmt_xdomain: give --source-lang and --target-lang to translate")
        sl, tl = self.langs.index(self.cfg.source_lang), self.langs.index(self.cfg.target_lang)

        return ParallelLangDataset([(TokensListDataset(src_tokens), None, sl, tl)], self.dictionary,
                                   self.cfg.max_source_positions,
                                   [f"input {self.cfg.source_lang}-{self.cfg.target_lang}"])

    # ------------------------------------------------------------------ model
    def build_model(self, cfg, from_checkpoint=False):
        """The model; with ``--init-from-mlm`` (and not reloading a trained checkpoint) the MLM
        checkpoint is read once, gives ``--max-positions`` when not set, is checked against the
        built model and copied into it, before any training step (``mlm_checkpoint``)."""
        init = getattr(cfg, "init_from_mlm", None)
        mlm = None
        if init and not from_checkpoint:
            partial = parse_partial(getattr(cfg, "init_from_mlm_partial", None))
            mlm = MLMCheckpoint.read(init)
            mlm.set_max_positions(cfg)
        model = super().build_model(cfg, from_checkpoint)
        if mlm is not None:
            init_unmt_from_mlm(model, mlm, cfg, self.langs, partial)
        return model

    # ------------------------------------------------------------------ training
    def _other_langs(self, lang: torch.Tensor, update_num: int) -> torch.Tensor:
        n = len(self.langs)
        if n == 2:
            return 1 - lang
        gen = torch.Generator().manual_seed(int(self.cfg.seed) * 1000003 + int(update_num))
        shift = torch.randint(1, n, lang.shape, generator=gen).to(lang.device)
        return (lang + shift) % n

    def backtranslate(self, sample, model, update_num: int = 0):
        """Translate each clean sentence into another language with the current model; return the
        (synthetic source -> real sentence) batch."""
        net = sample["net_input"]
        clean = sample["target"]
        lang = net["tgt_langs"]
        other = self._other_langs(lang, update_num)
        hyp = self._translate(model, clean, lang, other)
        pad = self.dictionary.pad()
        return {
            "id": sample["id"],
            "nsentences": sample["nsentences"],
            "ntokens": sample["ntokens"],
            "net_input": {
                "src_tokens": hyp,
                "src_lengths": hyp.ne(pad).sum(1),
                "src_langs": other,
                "tgt_langs": lang,
                "prev_output_tokens": net["prev_output_tokens"],
            },
            "target": clean,
        }

    def _translate(self, model, src, src_lang, tgt_lang):
        """[B, T] right-padded translations of ``src`` [B, S] (language ids [B] each) by the bare
        model in eval mode, no grad: greedy or ``--bt-beam``, max length a * len + b
        (``--bt-max-len-a/b``). Back-translation and round-trip BLEU translate here."""
        was_training = model.training
        model.eval()
        with torch.no_grad():
            if self.cfg.bt_beam <= 1:
                hyp = model.greedy_translate(src, src_lang, tgt_lang, self.cfg.bt_max_len_a,
                                             self.cfg.bt_max_len_b, banned=(self.mask_idx,))
            else:
                hyp = self._beam_translate(model, src, src_lang, tgt_lang)
        model.train(was_training)
        return hyp

    def _beam_translate(self, model, src, src_lang, tgt_lang):
        from fairseq.dataclass.configs import GenerationConfig

        if self._bt_generator is None or self._bt_generator.model.models[0] is not model:
            gen_cfg = GenerationConfig(beam=self.cfg.bt_beam, max_len_a=self.cfg.bt_max_len_a,
                                       max_len_b=self.cfg.bt_max_len_b)
            self._bt_generator = self.build_generator([model], gen_cfg)
        pad = self.dictionary.pad()
        fake = {"net_input": {"src_tokens": src, "src_lengths": src.ne(pad).sum(1),
                              "src_langs": src_lang, "tgt_langs": tgt_lang}}
        hyps = self._bt_generator.generate([model], fake)
        toks = [h[0]["tokens"] for h in hyps]
        return data_utils.collate_tokens(toks, pad, self.dictionary.eos(), left_pad=False)

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        model.train()
        model.set_num_updates(update_num)
        unwrapped = unwrap_model(model)  # generation on the bare model, outside DDP's hooks
        trace_train_step(sample, model, update_num, ignore_grad)
        self._last_update = update_num
        w_dae, w_bt = self.lambda_dae(update_num), self.lambda_bt(update_num)
        if w_dae <= 0 and w_bt <= 0:
            w_dae = 0.0  # still one forward/backward: every rank makes the same calls
        logs = defaultdict(float)
        total_loss, total_size = None, 0
        t0 = time.perf_counter()
        objectives = []
        if w_bt > 0:
            objectives.append(("bt", w_bt, self.backtranslate(sample, unwrapped, update_num)))
        bt_seconds = time.perf_counter() - t0
        if w_dae > 0 or not objectives:
            objectives.insert(0, ("dae", w_dae, sample))
        for name, weight, smp in objectives:
            loss, size, log = criterion(model, smp)
            total_loss = weight * loss if total_loss is None else total_loss + weight * loss
            total_size += size
            for k, v in log.items():
                if k in ("loss", "nll_loss", "ntokens", "nsentences", "sample_size"):
                    logs[f"{name}_{k}"] += v
                    logs[k] += v
        if ignore_grad:
            total_loss = total_loss * 0
        optimizer.backward(total_loss)
        logs["bt_seconds"] = bt_seconds if w_bt > 0 else 0.0
        logs["step_seconds"] = time.perf_counter() - t0
        return total_loss.detach(), total_size, dict(logs)

    # ------------------------------------------------------------------ validation
    def build_generator(self, models, args, seq_gen_cls=None, extra_gen_cls_kwargs=None, **kwargs):
        return super().build_generator(models, args, seq_gen_cls, extra_gen_cls_kwargs, **kwargs)

    def inference_step(self, generator, models, sample, prefix_tokens=None, constraints=None):
        net = sample["net_input"]
        if "src_langs" not in net:  # fairseq-interactive rebuilds net_input from src_tokens only
            if not (self.cfg.source_lang and self.cfg.target_lang):
                raise UserError("unmt_xdomain: give --source-lang and --target-lang to translate")
            bsz = net["src_tokens"].size(0)
            net = dict(net)
            net["src_langs"] = net["src_tokens"].new_full((bsz,), self.langs.index(self.cfg.source_lang))
            net["tgt_langs"] = net["src_tokens"].new_full((bsz,), self.langs.index(self.cfg.target_lang))
            sample = {**sample, "net_input": net}
        with torch.no_grad():
            return generator.generate(models, sample, prefix_tokens=prefix_tokens, constraints=constraints)

    def _decode(self, tokens, escape_unk=False):
        post = "sentencepiece" if self.sentencepiece else None
        text = self.dictionary.string(tokens.int().cpu(), post, unk_string="UNKNOWNTOKENINREF"
                                      if escape_unk else None)
        return text

    def valid_step(self, sample, model, criterion):
        unwrapped = unwrap_model(model)
        limit = min_limit(self.cfg.max_target_positions, unwrapped.max_decoder_positions())
        if not self._has_rt or not sample:  # no round-trip item can be in this batch
            rt_part, sample_par = None, sample
        else:
            net = sample["net_input"]
            is_rt = net["src_langs"].eq(net["tgt_langs"])
            rt_part = _rows(sample, is_rt, self.dictionary.pad()) if bool(is_rt.any()) else None
            sample_par = sample if rt_part is None else _rows(sample, ~is_rt, self.dictionary.pad())
        back = None
        if rt_part is not None:
            back = self._round_trip(unwrapped, rt_part)
        if rt_part is not None and not any(self._split_parallel.values()):
            # no parallel set anywhere: the loss of the round trip's second leg (y -> x)
            loss, sample_size, log = super().valid_step(
                clip_target_for_loss(back["second_leg"], limit, self.dictionary.pad()), model,
                criterion)
        elif sample_par is None or (rt_part is not None and sample_par["nsentences"] == 0):
            # a batch of round-trip items only: the loss keys of this criterion, all zero
            loss, sample_size, log = super().valid_step(
                clip_target_for_loss(rt_part, limit, self.dictionary.pad()), model, criterion)
            loss, sample_size = loss * 0, 0
            log = {k: v * 0 for k, v in log.items()}
        else:
            scored = clip_target_for_loss(sample_par, limit, self.dictionary.pad())
            loss, sample_size, log = super().valid_step(scored, model, criterion)
        if self.cfg.eval_bleu and sample_par and sample_par["nsentences"]:
            self._add_bleu(sample_par, model, log)
        elif self.cfg.eval_bleu and sample:
            add_bleu_stats(log, {}, self._directions(), self.cfg.bleu_tokenize)
        if self._has_rt and sample:
            add_round_trip_stats(log, back["texts"] if back else {}, self.langs,
                                 self.cfg.bleu_tokenize)
        return loss, sample_size, log

    def _round_trip(self, model, sample) -> dict:
        """Round trip of the monolingual items of a validation batch (``src_lang == tgt_lang``):
        ``{"texts": {lang: (round trips, originals)}, "second_leg": batch (translation ->
        original)}`` (``round_trip.py``; :meth:`_translate` both ways)."""
        net, pad = sample["net_input"], self.dictionary.pad()
        lang = net["src_langs"]
        pivot = lang.new_tensor([self.langs.index(pivot_language(self.langs, x))
                                 for x in self.langs])[lang]
        forward = self._translate(model, net["src_tokens"], lang, pivot)
        back = self._translate(model, forward, pivot, lang)
        texts = defaultdict(lambda: ([], []))
        for i in range(back.size(0)):
            name = self.langs[int(lang[i])]
            texts[name][0].append(self._decode(utils.strip_pad(back[i], pad)))
            texts[name][1].append(self._decode(utils.strip_pad(sample["target"][i], pad),
                                               escape_unk=True))
        second = {**sample, "net_input": {
            "src_tokens": forward, "src_lengths": forward.ne(pad).sum(1), "src_langs": pivot,
            "tgt_langs": lang, "prev_output_tokens": net["prev_output_tokens"]}}
        return {"texts": dict(texts), "second_leg": second}

    def _add_bleu(self, sample, model, log):
        from fairseq.dataclass.configs import GenerationConfig

        model = unwrap_model(model)  # generate on the bare model (no DDP hooks)
        if self._eval_generator is None or self._eval_generator.model.models[0] is not model:
            gen_cfg = GenerationConfig(beam=self.cfg.eval_beam, max_len_a=self.cfg.bt_max_len_a,
                                       max_len_b=self.cfg.bt_max_len_b)
            self._eval_generator = self.build_generator([model], gen_cfg)
        hyps = self.inference_step(self._eval_generator, [model], sample)
        pad = self.dictionary.pad()
        by_dir = defaultdict(lambda: ([], []))
        for i in range(len(hyps)):
            sl = int(sample["net_input"]["src_langs"][i])
            tl = int(sample["net_input"]["tgt_langs"][i])
            hyp = self._decode(hyps[i][0]["tokens"])
            ref = self._decode(utils.strip_pad(sample["target"][i], pad), escape_unk=True)
            by_dir[(sl, tl)][0].append(hyp)
            by_dir[(sl, tl)][1].append(ref)
        # every direction's keys, zeros where this batch has none of it (bleu_meter)
        add_bleu_stats(log, {(self.langs[sl], self.langs[tl]): texts
                             for (sl, tl), texts in by_dir.items()}, self._directions(),
                       self.cfg.bleu_tokenize)
        if self.cfg.eval_bleu_print_samples and by_dir:
            (sl, tl), (h, r) = next(iter(by_dir.items()))
            logger.info(f"{self.langs[sl]}->{self.langs[tl]} hyp: {h[0]!r} ref: {r[0]!r}")

    def reduce_metrics(self, logging_outputs, criterion):
        super().reduce_metrics(logging_outputs, criterion)

        def total(key):
            return sum(float(log.get(key, 0)) for log in logging_outputs)

        for name in ("dae", "bt"):
            size = total(f"{name}_sample_size")
            if size > 0:
                metrics.log_scalar(f"{name}_loss", total(f"{name}_loss") / size / np.log(2), size, round=3)
        if any("bt_seconds" in log for log in logging_outputs):
            metrics.log_scalar_sum("bt_sec", total("bt_seconds"), round=3)
            metrics.log_scalar_sum("step_sec", total("step_seconds"), round=3)
        if not self.cfg.no_rt_bleu:
            reduce_round_trip(logging_outputs)
        if not self.cfg.eval_bleu:
            return
        reduce_bleu(logging_outputs)


def _rows(sample: dict, mask: torch.Tensor, pad: int) -> dict:
    """The rows of a collated validation batch where ``mask`` [B] is true (padding columns
    trimmed; ``nsentences`` 0 for none)."""
    idx = mask.nonzero().squeeze(1)
    net = {k: v.index_select(0, idx) for k, v in sample["net_input"].items()}
    target = sample["target"].index_select(0, idx)
    if len(idx):  # contiguous: the criteria view the target as one row
        net["src_tokens"] = net["src_tokens"][:, : int(net["src_lengths"].max())].contiguous()
        width = int(target.ne(pad).sum(1).max())
        target = target[:, :width].contiguous()
        net["prev_output_tokens"] = net["prev_output_tokens"][:, :width].contiguous()
    return {"id": sample["id"].index_select(0, idx), "nsentences": len(idx),
            "ntokens": int(target.ne(pad).sum()), "net_input": net, "target": target}

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

Validation: loss and BLEU per direction (sacrebleu on detokenized, de-sentencepieced text),
logged as ``bleu_{src}_{tgt}`` (over ``bleu_sents_{src}_{tgt}`` sentences: all of the set) and
their mean ``bleu`` (use ``--best-checkpoint-metric bleu --maximize-best-checkpoint-metric``).
Dev/test sets are never filtered: a source longer than ``--max-source-positions`` or the model's
positions keeps its first ``limit - 1`` tokens and ``eos``, counted and logged per direction
(``N of M source sentences truncated to P tokens``), the same way in validation,
``fairseq-generate``, ``fairseq-interactive`` and ``xdomain-eval-bleu`` (``ParallelLangDataset``,
``get_batch_iterator``); references are never cut (a reference longer than the decoder's
positions adds only its first positions to the validation loss, all of it to BLEU).

Inference: ``--source-lang/--target-lang`` pick the direction for ``fairseq-generate`` and
``fairseq-interactive`` (``build_dataset_for_inference``).
The decoder always starts from ``eos`` with the target language embedding added at every step.
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
from fairseq.data import Dictionary, FairseqDataset, data_utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II

from ..common.errors import UserError
from ..distributed import param_digest, rank_trace, trace_train_step, tracing, unwrap_model
from ..lambda_schedule import PiecewiseLinear
from ..noise import NoiseConfig, add_noise, noise_rng, word_start_table

logger = logging.getLogger(__name__)

BLEU_ORDER = 4


def collate(samples, pad: int, eos: int):
    """Batch of {id, source, target?, src_lang, tgt_lang} -> fairseq translation-style sample."""
    if not samples:
        return {}
    src = data_utils.collate_tokens([s["source"] for s in samples], pad, eos, left_pad=False)
    batch = {
        "id": torch.LongTensor([s["id"] for s in samples]),
        "nsentences": len(samples),
        "net_input": {
            "src_tokens": src,
            "src_lengths": torch.LongTensor([len(s["source"]) for s in samples]),
            "src_lang": torch.LongTensor([s["src_lang"] for s in samples]),
            "tgt_lang": torch.LongTensor([s["tgt_lang"] for s in samples]),
        },
    }
    if samples[0].get("target") is not None:
        tgt = [s["target"] for s in samples]
        batch["target"] = data_utils.collate_tokens(tgt, pad, eos, left_pad=False)
        batch["net_input"]["prev_output_tokens"] = data_utils.collate_tokens(
            tgt, pad, eos, left_pad=False, move_eos_to_beginning=True
        )
        batch["ntokens"] = sum(len(t) for t in tgt)
    else:
        batch["ntokens"] = sum(len(s["source"]) for s in samples)
    return batch


def _with_eos(tokens: torch.Tensor, eos: int, max_len: int) -> torch.Tensor:
    """The sentence ending with one ``eos``, cut to at most ``max_len`` tokens (``eos`` kept).

    THE truncation rule of this task: a source longer than the model's positions keeps its
    first ``max_len - 1`` tokens and its ``eos`` (training, validation, generate, eval-bleu).
    """
    body = tokens[:-1] if len(tokens) and tokens[-1] == eos else tokens
    body = body[: max_len - 1]
    return torch.cat([body, body.new_tensor([eos])])


def _position_limits(max_positions) -> "tuple[int | None, int | None]":
    """(source, target) limits from fairseq's resolved ``max_positions`` (int, tuple or None)."""
    if max_positions is None:
        return None, None
    if isinstance(max_positions, (tuple, list)):
        src, tgt = (list(max_positions) + [None, None])[:2]
        return src, tgt
    return max_positions, max_positions


def _min_limit(*values):
    values = [int(v) for v in values if v is not None]
    return min(values) if values else None


def clip_target_for_loss(sample, max_len: int, pad: int):
    """A copy of a batch whose teacher-forced target fits ``max_len`` decoder positions.

    Used for the validation *loss* only: a reference longer than the decoder's positions is
    scored on its first ``max_len`` tokens; BLEU always uses the whole reference.
    """
    target = sample.get("target")
    if target is None or target.size(1) <= max_len:
        return sample
    target = target[:, :max_len].contiguous()
    net = dict(sample["net_input"])
    net["prev_output_tokens"] = net["prev_output_tokens"][:, :max_len].contiguous()
    return {**sample, "net_input": net, "target": target, "ntokens": int(target.ne(pad).sum())}


class _LangBatchDataset(FairseqDataset):
    """Shared batching of the UNMT datasets: ``collate`` with the joint dictionary; ``sizes``."""

    def collater(self, samples):
        return collate(samples, self.dictionary.pad(), self.dictionary.eos())

    def num_tokens(self, index):
        return int(self.sizes[index])

    def num_tokens_vec(self, indices):
        return self.sizes[indices]


class MonolingualNoisyDataset(_LangBatchDataset):
    """Monolingual sentences of every language; each item also carries its noisy version.

    An epoch is ``epoch_sentences`` sentences, split evenly over the languages and drawn afresh
    every epoch (``0``: every sentence of every language once). Noise is seeded by
    (seed, epoch, index): reproducible, and different every epoch.
    """

    def __init__(self, lang_datasets, dictionary, word_start, mask_idx, noise: NoiseConfig,
                 seed: int, epoch_sentences: int, max_len: int):
        self.datasets = lang_datasets  # list of (lang_id, indexed dataset)
        self.sizes_per_lang = [np.asarray(ds.sizes) for _, ds in lang_datasets]
        self.dictionary = dictionary
        self.word_start = word_start
        self.mask_idx = mask_idx
        self.noise = noise
        self.seed = seed
        self.epoch_sentences = epoch_sentences
        self.max_len = self.max_len_option = max_len
        self._logged_limit = None
        self.epoch = None
        self.set_epoch(1)

    def limit_positions(self, max_positions, name="train"):
        """Truncate to ``--max-source-positions`` and fairseq's resolved ``max_positions`` (the
        model's positions: source and target are the same sentence here); count and log."""
        limit = _min_limit(self.max_len_option, *_position_limits(max_positions))
        if limit != self.max_len:
            self.max_len = limit
            self.sizes = np.minimum(self.sizes, limit)
        if limit != self._logged_limit:
            self._logged_limit = limit
            longer = sum(int((s > limit).sum()) for s in self.sizes_per_lang)
            if longer:
                total = sum(len(s) for s in self.sizes_per_lang)
                logger.warning(f"{name}: {longer} of {total} monolingual sentences truncated to "
                               f"{limit} tokens")

    @property
    def can_reuse_epoch_itr_across_epochs(self):
        return False

    def set_epoch(self, epoch):
        if epoch == self.epoch:
            return
        self.epoch = epoch
        langs, idx, sizes = [], [], []
        per_lang = self.epoch_sentences // len(self.datasets) if self.epoch_sentences > 0 else None
        for pos, (_, ds) in enumerate(self.datasets):
            n = len(ds)
            if per_lang is None:
                chosen = np.arange(n)
            else:  # a stream of permutations: every sentence is seen once before any repeats
                start, end = (epoch - 1) * per_lang, epoch * per_lang
                perms = [np.random.default_rng((self.seed, pos, p)).permutation(n)
                         for p in range(start // n, (end - 1) // n + 1)]
                chosen = np.concatenate(perms)[start - (start // n) * n:][:per_lang]
            langs.append(np.full(len(chosen), pos))
            idx.append(chosen)
            sizes.append(self.sizes_per_lang[pos][chosen])
        self.table_lang = np.concatenate(langs)
        self.table_idx = np.concatenate(idx)
        self.sizes = np.minimum(np.concatenate(sizes).astype(np.int64), self.max_len)

    def __len__(self):
        return len(self.table_idx)

    def __getitem__(self, index):
        pos, j = int(self.table_lang[index]), int(self.table_idx[index])
        lang_id, ds = self.datasets[pos]
        eos = self.dictionary.eos()
        clean = _with_eos(ds[j].long(), eos, self.max_len)
        rng = noise_rng(self.seed, self.epoch, index)
        noisy = add_noise(clean[:-1], self.word_start, self.mask_idx, rng, self.noise)
        noisy = torch.cat([noisy, clean.new_tensor([eos])])
        return {"id": index, "source": noisy, "target": clean, "src_lang": lang_id, "tgt_lang": lang_id}

    def size(self, index):
        return int(self.sizes[index])

    def ordered_indices(self):
        order = np.random.permutation(len(self))
        return order[np.argsort(self.sizes[order], kind="mergesort")]

    def filter_indices_by_size(self, indices, max_sizes):
        return indices, []  # sentences are truncated to --max-source-positions, never dropped

    @property
    def supports_prefetch(self):
        return False


class ParallelLangDataset(_LangBatchDataset):
    """One or more translation directions, each item tagged with (src_lang, tgt_lang).

    Dev/test sets are scored completely, one documented way: no sentence is ever dropped
    (neither by size nor by fairseq's batch-size multiple); a source longer than the limit
    (``--max-source-positions`` and the model's positions, whichever is smaller; set by
    ``UnmtXdomainTask.get_batch_iterator``) keeps its first ``limit - 1`` tokens and ``eos``
    (``_with_eos``), counted and logged per direction; the reference (``target``) is never cut.
    Validation, ``fairseq-generate``, ``fairseq-interactive`` and ``xdomain-eval-bleu`` all
    batch through that method, so they truncate the same sentences.
    """

    def __init__(self, directions, dictionary, max_len: int, names=None):
        # directions: list of (src_ds, tgt_ds or None, src_lang_id, tgt_lang_id)
        self.directions = directions
        self.dictionary = dictionary
        self.max_len = self.max_len_option = max_len
        self.names = list(names) if names else [f"direction {i}" for i in range(len(directions))]
        self.truncated = {}  # direction name -> number of truncated sources (limit_positions)
        offsets, src_sizes, tgt_sizes = [0], [], []
        for src, tgt, _, _ in directions:
            offsets.append(offsets[-1] + len(src))
            src_sizes.append(np.asarray(src.sizes))
            tgt_sizes.append(np.asarray(tgt.sizes) if tgt is not None else np.zeros(len(src), np.int64))
        self.offsets = offsets
        self.src_sizes = np.concatenate(src_sizes).astype(np.int64)
        self.tgt_sizes = np.concatenate(tgt_sizes).astype(np.int64)
        self._limits = None
        self.limit_positions(None)

    def limit_positions(self, max_positions):
        """Fit the sources to the model's positions: set the limit, count and log truncations.

        ``max_positions`` is fairseq's resolved (source, target) limit of task and model. Batch
        sizes count the tokens the model sees (truncated source, target up to its positions).
        """
        src_max, tgt_max = _position_limits(max_positions)
        limits = (_min_limit(self.max_len_option, src_max), tgt_max)
        if limits == self._limits:
            return
        self._limits = limits
        self.max_len, tgt_limit = limits
        seen_tgt = self.tgt_sizes if tgt_limit is None else np.minimum(self.tgt_sizes, tgt_limit)
        self.sizes = np.maximum(np.minimum(self.src_sizes, self.max_len), seen_tgt)
        self.truncated = {}
        for d, name in enumerate(self.names):
            part = slice(self.offsets[d], self.offsets[d + 1])
            n = int((self.src_sizes[part] > self.max_len).sum())
            self.truncated[name] = n
            if n and max_positions is not None:
                logger.warning(f"{name}: {n} of {len(self.src_sizes[part])} source sentences "
                               f"truncated to {self.max_len} tokens (--max-source-positions and "
                               "the model's positions; references are kept whole)")
            if tgt_limit is not None and self.directions[d][1] is not None:
                k = int((self.tgt_sizes[part] > tgt_limit).sum())
                if k:
                    logger.info(f"{name}: {k} references longer than {tgt_limit} tokens: the "
                                f"validation loss covers their first {tgt_limit}, BLEU all of it")

    def __len__(self):
        return self.offsets[-1]

    def _locate(self, index):
        d = int(np.searchsorted(self.offsets, index, side="right") - 1)
        return d, index - self.offsets[d]

    def __getitem__(self, index):
        d, j = self._locate(index)
        src, tgt, sl, tl = self.directions[d]
        eos = self.dictionary.eos()
        item = {"id": index, "source": _with_eos(src[j].long(), eos, self.max_len),
                "src_lang": sl, "tgt_lang": tl, "target": None}
        if tgt is not None:
            item["target"] = _with_eos(tgt[j].long(), eos, 10 ** 9)
        return item

    def size(self, index):
        return (int(self.src_sizes[index]), int(self.tgt_sizes[index]))

    def ordered_indices(self):
        return np.lexsort((self.tgt_sizes, self.src_sizes))

    def batch_by_size(self, indices, max_tokens=None, max_sentences=None,
                      required_batch_size_multiple=1):
        # fairseq 0.12.3 drops the last batch when its size is not a multiple of
        # --required-batch-size-multiple: dev/test sets must be scored completely.
        return super().batch_by_size(indices, max_tokens, max_sentences, 1)

    def filter_indices_by_size(self, indices, max_sizes):
        # never drop a dev/test sentence: sources are truncated (limit_positions), references
        # are kept whole (fairseq's --skip-invalid-size-inputs-valid-test has nothing to skip)
        return indices, []


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
    eval_bleu_print_samples: bool = field(default=False, metadata={"help": "log one translation per batch"})
    seed: int = II("common.seed")


@register_task("unmt_xdomain", dataclass=UnmtXdomainConfig)
class UnmtXdomainTask(FairseqTask):
    cfg: UnmtXdomainConfig

    def __init__(self, cfg: UnmtXdomainConfig, dictionary: Dictionary, spm_model: "str | None"):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.mask_idx = dictionary.index("<mask>")
        self.langs = self.parse_langs(cfg.langs)
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
        for opt in ("source_lang", "target_lang"):
            lang = getattr(cfg, opt)
            if lang is not None and lang not in self.langs:
                raise UserError(f"--{opt.replace('_', '-')}: {lang!r} is not one of --langs {cfg.langs}")
        self._bt_generator = None
        self._eval_generator = None

    @staticmethod
    def parse_langs(langs: str) -> list[str]:
        out = [x.strip() for x in str(langs).split(",") if x.strip()]
        if len(out) < 2 or len(set(out)) != len(out):
            raise UserError(f"--langs: need at least two distinct languages, got {langs!r}")
        return out

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
    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

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
        for src, tgt in self._directions():
            a, b = sorted((src, tgt))
            stem = os.path.join(data, f"{split}.{a}-{b}")
            if not os.path.exists(f"{stem}.{src}.bin"):
                if len(self._directions()) == 1:
                    raise UserError(f"{stem}.{src}.bin: no parallel {split} set for {src}-{tgt}")
                continue
            directions.append((self._load(f"{stem}.{src}"), self._load(f"{stem}.{tgt}"),
                               self.langs.index(src), self.langs.index(tgt)))
            names.append(f"{split} {src}-{tgt}")
            logger.info(f"{split} {src}-{tgt}: {len(directions[-1][0])} sentence pairs")
        if not directions:
            have = sorted(f[:-4] for f in os.listdir(data)
                          if f.startswith(f"{split}.") and f.endswith(".bin"))
            raise UserError(f"{data}: no parallel '{split}' set ({split}.{{a}}-{{b}}.{{lang}}.bin) "
                            f"for --langs {','.join(self.langs)} (the data has "
                            f"{', '.join(have) if have else 'none'})")
        self.datasets[split] = ParallelLangDataset(directions, self.dictionary,
                                                   self.cfg.max_source_positions, names)

    def get_batch_iterator(self, dataset, max_tokens=None, max_sentences=None, max_positions=None,
                           **kwargs):
        """fairseq's iterator, after fitting the data to ``max_positions`` (task and model).

        Every batch of the task (training, validation, generate, interactive, eval-bleu) is made
        here, so every path truncates the same sentences the same way (``_with_eos``).
        """
        if isinstance(dataset, (ParallelLangDataset, MonolingualNoisyDataset)):
            dataset.limit_positions(max_positions)
        return super().get_batch_iterator(dataset, max_tokens, max_sentences, max_positions,
                                          **kwargs)

    def build_dataset_for_inference(self, src_tokens, src_lengths, constraints=None, **kwargs):
        if not (self.cfg.source_lang and self.cfg.target_lang):
            raise UserError("unmt_xdomain: give --source-lang and --target-lang to translate")
        sl, tl = self.langs.index(self.cfg.source_lang), self.langs.index(self.cfg.target_lang)

        class _Raw:
            def __init__(self, items):
                self.items = items
                self.sizes = np.array([len(t) for t in items], dtype=np.int64)

            def __len__(self):
                return len(self.items)

            def __getitem__(self, i):
                return self.items[i]

        return ParallelLangDataset([(_Raw(list(src_tokens)), None, sl, tl)], self.dictionary,
                                   self.cfg.max_source_positions,
                                   [f"input {self.cfg.source_lang}-{self.cfg.target_lang}"])

    # ------------------------------------------------------------------ model
    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        init = getattr(cfg, "init_from_mlm", None)
        if init and not from_checkpoint:
            model.load_mlm(init, self.langs)
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
        lang = net["tgt_lang"]
        other = self._other_langs(lang, update_num)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            if self.cfg.bt_beam <= 1:
                hyp = model.greedy_translate(clean, lang, other, self.cfg.bt_max_len_a,
                                             self.cfg.bt_max_len_b, banned=(self.mask_idx,))
            else:
                hyp = self._beam_translate(model, clean, lang, other)
        model.train(was_training)
        pad = self.dictionary.pad()
        return {
            "id": sample["id"],
            "nsentences": sample["nsentences"],
            "ntokens": sample["ntokens"],
            "net_input": {
                "src_tokens": hyp,
                "src_lengths": hyp.ne(pad).sum(1),
                "src_lang": other,
                "tgt_lang": lang,
                "prev_output_tokens": net["prev_output_tokens"],
            },
            "target": clean,
        }

    def _beam_translate(self, model, src, src_lang, tgt_lang):
        from fairseq.dataclass.configs import GenerationConfig

        if self._bt_generator is None or self._bt_generator.model.models[0] is not model:
            gen_cfg = GenerationConfig(beam=self.cfg.bt_beam, max_len_a=self.cfg.bt_max_len_a,
                                       max_len_b=self.cfg.bt_max_len_b)
            self._bt_generator = self.build_generator([model], gen_cfg)
        pad = self.dictionary.pad()
        fake = {"net_input": {"src_tokens": src, "src_lengths": src.ne(pad).sum(1),
                              "src_lang": src_lang, "tgt_lang": tgt_lang}}
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
        if "src_lang" not in net:  # fairseq-interactive rebuilds net_input from src_tokens only
            if not (self.cfg.source_lang and self.cfg.target_lang):
                raise UserError("unmt_xdomain: give --source-lang and --target-lang to translate")
            bsz = net["src_tokens"].size(0)
            net = dict(net)
            net["src_lang"] = net["src_tokens"].new_full((bsz,), self.langs.index(self.cfg.source_lang))
            net["tgt_lang"] = net["src_tokens"].new_full((bsz,), self.langs.index(self.cfg.target_lang))
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
        limit = _min_limit(self.cfg.max_target_positions, unwrapped.max_decoder_positions())
        scored = clip_target_for_loss(sample, limit, self.dictionary.pad()) if sample else sample
        loss, sample_size, log = super().valid_step(scored, model, criterion)
        if self.cfg.eval_bleu and sample:
            self._add_bleu(sample, model, log)
        return loss, sample_size, log

    def _add_bleu(self, sample, model, log):
        import sacrebleu
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
            sl = int(sample["net_input"]["src_lang"][i])
            tl = int(sample["net_input"]["tgt_lang"][i])
            hyp = self._decode(hyps[i][0]["tokens"])
            ref = self._decode(utils.strip_pad(sample["target"][i], pad), escape_unk=True)
            by_dir[(sl, tl)][0].append(hyp)
            by_dir[(sl, tl)][1].append(ref)
        # Every direction's keys, in one order, zeros where this batch has none of it: fairseq
        # sums the logging outputs of all ranks key by key (a rank's batch may hold other
        # directions, and its dummy batch none), so every rank must log the same keys.
        for src, tgt in self._directions():
            key = f"_bleu_{src}_{tgt}"
            h, r = by_dir.get((self.langs.index(src), self.langs.index(tgt)), ([], []))
            stats = sacrebleu.corpus_bleu(h, [r], tokenize="13a") if h else None
            log[f"{key}_sents"] = len(h)
            log[f"{key}_sys_len"] = stats.sys_len if stats else 0
            log[f"{key}_ref_len"] = stats.ref_len if stats else 0
            for n in range(BLEU_ORDER):
                log[f"{key}_counts_{n}"] = stats.counts[n] if stats else 0
                log[f"{key}_totals_{n}"] = stats.totals[n] if stats else 0
        if self.cfg.eval_bleu_print_samples and by_dir:
            (sl, tl), (h, r) = next(iter(by_dir.items()))
            logger.info(f"{self.langs[sl]}->{self.langs[tl]} hyp: {h[0]!r} ref: {r[0]!r}")

    def begin_valid_epoch(self, epoch, model):
        super().begin_valid_epoch(epoch, model)
        if tracing():
            rank_trace("valid", epoch=int(epoch), params=param_digest(model),
                       after_update=getattr(self, "_last_update", -1) + 1)

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
        if not self.cfg.eval_bleu:
            return
        keys = sorted({k[len("_bleu_"):-len("_sys_len")] for log in logging_outputs
                       for k in log if k.startswith("_bleu_") and k.endswith("_sys_len")})
        names = []
        for direction in keys:
            key = f"_bleu_{direction}"
            counts = [total(f"{key}_counts_{n}") for n in range(BLEU_ORDER)]
            totals = [total(f"{key}_totals_{n}") for n in range(BLEU_ORDER)]
            if max(totals) <= 0:
                continue
            metrics.log_scalar(f"{key}_counts", np.array(counts))
            metrics.log_scalar(f"{key}_totals", np.array(totals))
            metrics.log_scalar(f"{key}_sys_len", total(f"{key}_sys_len"))
            metrics.log_scalar(f"{key}_ref_len", total(f"{key}_ref_len"))
            metrics.log_scalar_sum(f"bleu_sents_{direction}", total(f"{key}_sents"))
            metrics.log_derived(f"bleu_{direction}", _bleu_fn(key))
            names.append(key)
        if names:
            metrics.log_derived("bleu", lambda meters: round(
                float(np.mean([_bleu_fn(k)(meters) for k in names])), 2))


def _bleu_fn(key):
    def compute(meters):
        from sacrebleu.metrics import BLEU

        bleu = BLEU.compute_bleu(
            correct=meters[f"{key}_counts"].sum, total=meters[f"{key}_totals"].sum,
            sys_len=int(meters[f"{key}_sys_len"].sum), ref_len=int(meters[f"{key}_ref_len"].sum),
            smooth_method="exp",
        )
        return round(bleu.score, 2)

    return compute

"""Joint cross-lingual masked-LM pre-training (XLM-style) as the fairseq task ``xlm_mlm``.

Reads the binarized per-language folders of docs/design.md (``DATA/dict.txt`` plus
``{folder}/train.{bin,idx}`` and ``{folder}/valid.{bin,idx}``, folder ``DATA/{lang}`` unless
``--data-per-lang`` names another), cuts each language into streams of ``--tokens-per-sample``
tokens (``<s>`` + 255 tokens by default), masks 15% of the tokens (80% ``<mask>``, 10% random,
10% kept; optionally whole sentencepiece words) with fresh masks every epoch, tags every
sequence with its language id (``net_input.src_langs``, rows of the model's language
embeddings in ``--langs`` order) and samples languages with probabilities ``p_l ~ n_l^alpha``
(``--sample-alpha``, XLM's 0.5) so that a small corpus is not drowned by a large one.

Validation concatenates every language's ``valid`` split without resampling and with the same
masks every time (so validation losses are comparable across epochs) and scores every block,
whatever ``--required-batch-size-multiple`` (``EvalBlocksDataset``); the criterion
``xlm_mlm_loss`` logs the loss, perplexity and masked-token accuracy of each language.

"Wiki only" vs "Wiki + UN" is the same command with other data: point ``DATA`` (or
``--data-per-lang en=WIKI/en,fr=UN/fr``) at the folders to use.
"""

import filecmp
import logging
import os
from dataclasses import dataclass, field

import numpy as np
import torch
from fairseq.data import (
    BaseWrapperDataset,
    ConcatDataset,
    Dictionary,
    IdDataset,
    MaskTokensDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    PrependTokenDataset,
    RawLabelDataset,
    ResamplingDataset,
    RightPadDataset,
    TokenBlockDataset,
    TruncateDataset,
    data_utils,
)
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II, MISSING

from ..common.errors import UserError
from ..distributed import param_digest, rank_trace, trace_train_step, tracing

logger = logging.getLogger(__name__)

BREAK_MODES = ChoiceEnum(["none", "complete", "eos"])
WORD_START = "\u2581"  # sentencepiece's word-start marker '▁'


# ---------------------------------------------------------------- plain numpy helpers


def language_sampling_probs(sizes, alpha: float) -> np.ndarray:
    """XLM's smoothed language sampling: ``p_l = q_l^alpha / sum_k q_k^alpha`` with ``q = sizes/sum``.

    alpha=1 keeps the natural proportions, alpha=0 samples languages uniformly.
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    if sizes.ndim != 1 or len(sizes) == 0 or (sizes <= 0).any():
        raise ValueError(f"need positive corpus sizes, got {sizes.tolist()}")
    if alpha < 0:
        raise ValueError(f"--sample-alpha must be >= 0, got {alpha}")
    q = sizes / sizes.sum()
    p = q**alpha
    return p / p.sum()


def sentencepiece_word_starts(symbols, nspecial: int) -> np.ndarray:
    """Boolean array over the vocabulary: does this piece start a word?

    Special symbols (the first ``nspecial``) and pieces starting with '▁' start a word; every
    other piece continues the word before it. Symbols like ``<mask>`` count as word starts.
    """
    starts = np.array(
        [i < nspecial or s.startswith(WORD_START) or (s.startswith("<") and s.endswith(">"))
         for i, s in enumerate(symbols)],
        dtype=bool,
    )
    return starts


# ---------------------------------------------------------------- datasets


class FreshOrFixedMaskTokensDataset(MaskTokensDataset):
    """fairseq's MaskTokensDataset (masks seeded by ``(seed, epoch, index)``, fresh each epoch).

    With ``fixed_epoch`` set (validation) the masks do not change between epochs.
    """

    def __init__(self, *args, fixed_epoch=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fixed_epoch = fixed_epoch
        if fixed_epoch is not None:
            self.epoch = fixed_epoch

    def set_epoch(self, epoch, **unused):
        super().set_epoch(epoch if self.fixed_epoch is None else self.fixed_epoch)


class ShuffledBySizeDataset(BaseWrapperDataset):
    """Orders items by their *current* size, ties broken by a random permutation.

    ``ordered_indices`` is called by fairseq inside ``numpy_seed(seed + epoch)``, so the order is
    reproducible and changes with the epoch; sizes are read fresh, so they stay right after
    ``ResamplingDataset`` resamples in ``set_epoch`` (fairseq's SortDataset keeps stale ones).
    """

    @property
    def sizes(self):
        # NestedDictionaryDataset (a single language, no resampling) reports a list of size
        # arrays; ConcatDataset a flat array. Always give the flat token counts.
        sizes = self.dataset.sizes
        if isinstance(sizes, (list, tuple)):
            if len(sizes) != 1:
                raise ValueError(f"expected one size array, got {len(sizes)}")
            sizes = sizes[0]
        return np.asarray(sizes)

    def ordered_indices(self):
        sizes = self.sizes
        return np.lexsort([np.random.permutation(len(sizes)), sizes])

    def num_tokens_vec(self, indices):
        return self.sizes[indices]

    def size(self, index):
        return self.dataset.size(index)


class EvalBlocksDataset(ShuffledBySizeDataset):
    """The validation/test blocks: every block is scored, whatever the batch-size multiple.

    fairseq 0.12.3's ``batch_by_size`` drops the last batch when its size is not a multiple of
    ``--required-batch-size-multiple`` (default 8): 12 blocks were validated as 8, and fewer
    than 8 left no batch at all ("The dataset is empty"). Evaluation batches need no multiple.
    """

    def batch_by_size(self, indices, max_tokens=None, max_sentences=None,
                      required_batch_size_multiple=1):
        return super().batch_by_size(indices, max_tokens=max_tokens, max_sentences=max_sentences,
                                     required_batch_size_multiple=1)


# ---------------------------------------------------------------- task


@dataclass
class XLMMLMConfig(FairseqDataclass):
    data: str = field(
        default=MISSING,
        metadata={"help": "binarized DATA folder (DATA/dict.txt, DATA/{lang}/train.bin ...)"},
    )
    langs: str = field(
        default=MISSING, metadata={"help": "comma-separated languages, e.g. en,fr (ids in this order)"}
    )
    data_per_lang: str = field(
        default="",
        metadata={"help": "per-language data folders 'en=PATH,fr=PATH' (default DATA/{lang}); "
                          "each holds {split}.bin/.idx binarized with DATA/dict.txt"},
    )
    sample_break_mode: BREAK_MODES = field(
        default="none",
        metadata={"help": "none: streams of --tokens-per-sample tokens across sentences (XLM); "
                          "complete: blocks of whole sentences; eos: one sentence per block"},
    )
    tokens_per_sample: int = field(
        default=256, metadata={"help": "tokens per block, including the leading <s>"}
    )
    mask_prob: float = field(default=0.15, metadata={"help": "fraction of tokens to predict"})
    leave_unmasked_prob: float = field(
        default=0.1, metadata={"help": "of those, fraction left unchanged"}
    )
    random_token_prob: float = field(
        default=0.1, metadata={"help": "of those, fraction replaced by a random token"}
    )
    mask_whole_words: bool = field(
        default=False,
        metadata={"help": "mask whole words: a piece starting with '▁' starts a word (sentencepiece)"},
    )
    sample_alpha: float = field(
        default=0.5,
        metadata={"help": "language sampling exponent: p_l ~ n_l^alpha (1: natural, 0: uniform)"},
    )
    seed: int = II("common.seed")


@register_task("xlm_mlm", dataclass=XLMMLMConfig)
class XLMMLMTask(FairseqTask):
    """Masked-LM pre-training on several languages with language embeddings (XLM)."""

    cfg: XLMMLMConfig

    def __init__(self, cfg: XLMMLMConfig, dictionary: Dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.mask_idx = dictionary.add_symbol("<mask>")
        self.langs = self.parse_langs(cfg.langs)
        self.lang_dirs = self.parse_lang_dirs(cfg)
        if cfg.tokens_per_sample < 2:
            raise UserError(f"--tokens-per-sample must be >= 2, got {cfg.tokens_per_sample}")
        if not 0.0 < cfg.mask_prob < 1.0:
            raise UserError(f"--mask-prob must be in (0, 1), got {cfg.mask_prob}")
        self.word_starts = None
        if cfg.mask_whole_words:
            starts = sentencepiece_word_starts(dictionary.symbols, dictionary.nspecial)
            n_pieces = sum(s.startswith(WORD_START) for s in dictionary.symbols)
            if n_pieces == 0:
                raise UserError(
                    f"{os.path.join(cfg.data, 'dict.txt')}: no sentencepiece word-start piece "
                    "('▁...'); --mask-whole-words needs a sentencepiece vocabulary"
                )
            self.word_starts = torch.from_numpy(starts.astype(np.uint8))
            logger.info("whole-word masking: %d of %d pieces start a word", int(starts.sum()),
                        len(starts))

    # ---- configuration
    @staticmethod
    def parse_langs(langs: str):
        out = [lang.strip() for lang in str(langs).split(",") if lang.strip()]
        if not out:
            raise UserError("--langs: give at least one language, e.g. --langs en,fr")
        if len(set(out)) != len(out):
            raise UserError(f"--langs: duplicate language in {langs!r}")
        return out

    def parse_lang_dirs(self, cfg):
        root = cfg.data.split(os.pathsep)[0]
        dirs = {lang: os.path.join(root, lang) for lang in self.langs}
        for item in filter(None, (s.strip() for s in (cfg.data_per_lang or "").split(","))):
            lang, sep, path = item.partition("=")
            if not sep or not path:
                raise UserError(f"--data-per-lang: expected LANG=PATH, got {item!r}")
            if lang not in dirs:
                raise UserError(f"--data-per-lang: {lang!r} is not one of --langs {cfg.langs}")
            dirs[lang] = path
        return dirs

    @classmethod
    def setup_task(cls, cfg: XLMMLMConfig, **kwargs):
        root = cfg.data.split(os.pathsep)[0]
        dict_path = os.path.join(root, "dict.txt")
        if not os.path.isfile(dict_path):
            raise UserError(f"{dict_path}: dictionary not found (expected the binarized layout "
                            "of docs/design.md: DATA/dict.txt, DATA/{lang}/train.bin ...)")
        dictionary = Dictionary.load(dict_path)
        logger.info("dictionary %s: %d types", dict_path, len(dictionary))
        task = cls(cfg, dictionary)
        for lang, folder in task.lang_dirs.items():
            copy = os.path.join(folder, "dict.txt")
            if os.path.isfile(copy) and not filecmp.cmp(copy, dict_path, shallow=False):
                raise UserError(f"{copy}: differs from {dict_path}; the data of '{lang}' was "
                                "binarized with another dictionary")
        return task

    # ---- data
    def _load_lang_blocks(self, split, lang, combine):
        """Blocks of ``<s>`` + up to tokens_per_sample-1 tokens of one language, or None."""
        prefix = os.path.join(self.lang_dirs[lang], split)
        dataset = data_utils.load_indexed_dataset(prefix, self.dictionary, combine=combine)
        if dataset is None:
            return None
        if len(dataset) == 0:
            raise UserError(f"{prefix}.bin: empty dataset")
        block = self.cfg.tokens_per_sample - 1
        mode = self.cfg.sample_break_mode
        if mode != "none":
            too_long = int((dataset.sizes > block).sum())
            if too_long:
                logger.warning("%s: %d of %d sentences longer than %d tokens are truncated",
                               prefix, too_long, len(dataset), block)
                dataset = TruncateDataset(dataset, block)
        dataset = TokenBlockDataset(
            dataset, dataset.sizes, block, pad=self.dictionary.pad(), eos=self.dictionary.eos(),
            break_mode=mode,
        )
        logger.info("%s [%s]: %d blocks, %d tokens", prefix, lang, len(dataset),
                    int(dataset.sizes.sum()))
        return PrependTokenDataset(dataset, self.dictionary.bos())

    def _mask_and_tag(self, blocks, lang_id, train):
        src, tgt = FreshOrFixedMaskTokensDataset.apply_mask(
            blocks,
            self.dictionary,
            pad_idx=self.dictionary.pad(),
            mask_idx=self.mask_idx,
            seed=self.cfg.seed,
            mask_prob=self.cfg.mask_prob,
            leave_unmasked_prob=self.cfg.leave_unmasked_prob,
            random_token_prob=self.cfg.random_token_prob,
            mask_whole_words=self.word_starts,
            fixed_epoch=None if train else 1,
        )
        pad = self.dictionary.pad()
        return NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": {
                    "src_tokens": RightPadDataset(src, pad_idx=pad),
                    "src_lengths": NumelDataset(src, reduce=False),
                    "src_langs": RawLabelDataset(np.full(len(src), lang_id, dtype=np.int64)),
                },
                "target": RightPadDataset(tgt, pad_idx=pad),
                "nsentences": NumSamplesDataset(),
                "ntokens": NumelDataset(src, reduce=True),
            },
            sizes=[src.sizes],
        )

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        train = split == "train"  # resampled, fresh masks; other splits: fixed masks
        per_lang, names = [], []
        for lang_id, lang in enumerate(self.langs):
            blocks = self._load_lang_blocks(split, lang, combine)
            if blocks is None:
                if train:
                    root = self.cfg.data.split(os.pathsep)[0]
                    have = sorted(d for d in os.listdir(root)
                                  if os.path.isfile(os.path.join(root, d, f"{split}.bin")))
                    raise UserError(f"{os.path.join(self.lang_dirs[lang], split)}.bin: not found "
                                    f"(training data of --langs '{lang}'; {root} has "
                                    f"{', '.join(have) if have else 'no language'})")
                logger.warning("no %s data for '%s' (%s.bin): not evaluated", split, lang,
                               os.path.join(self.lang_dirs[lang], split))
                continue
            per_lang.append(self._mask_and_tag(blocks, lang_id, train))
            names.append(lang)
        if not per_lang:
            raise UserError(
                f"{os.path.join(self.lang_dirs[self.langs[0]], split)}.bin: no '{split}' data for "
                f"any of --langs {','.join(self.langs)} (looked in "
                f"{', '.join(sorted(set(self.lang_dirs.values())))}; without a valid split use "
                "--disable-validation)"
            )
        if train and len(per_lang) > 1 and self.cfg.sample_alpha != 1.0:
            sizes = [len(d) for d in per_lang]
            probs = language_sampling_probs(sizes, self.cfg.sample_alpha)
            total = sum(sizes)
            resampled = []
            for lang, d, p in zip(names, per_lang, probs):
                ratio = p * total / len(d)
                logger.info("sampling '%s' (alpha=%g): %d blocks, natural p=%.3f -> p=%.3f "
                            "(x%.3f per epoch)", lang, self.cfg.sample_alpha, len(d),
                            len(d) / total, p, ratio)
                resampled.append(ResamplingDataset(
                    d, size_ratio=ratio, replace=ratio >= 1.0, seed=self.cfg.seed, epoch=epoch,
                ))
            per_lang = resampled
        dataset = per_lang[0] if len(per_lang) == 1 else ConcatDataset(per_lang)
        wrapper = ShuffledBySizeDataset if train else EvalBlocksDataset
        self.datasets[split] = wrapper(dataset)
        logger.info("%s: %d blocks of %s", split, len(dataset), ",".join(names))

    def build_dataset_for_inference(self, src_tokens, src_lengths, lang=None, sort=True):
        """Unmasked sentences of one language (``lang``, default the first), for feature extraction."""
        lang_id = self.langs.index(lang) if lang else 0
        pad = self.dictionary.pad()
        src = PrependTokenDataset(
            TokenBlockDataset(src_tokens, src_lengths, self.cfg.tokens_per_sample - 1, pad=pad,
                              eos=self.dictionary.eos(), break_mode="eos"),
            self.dictionary.bos(),
        )
        return NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": {
                    "src_tokens": RightPadDataset(src, pad_idx=pad),
                    "src_lengths": NumelDataset(src, reduce=False),
                    "src_langs": RawLabelDataset(np.full(len(src), lang_id, dtype=np.int64)),
                },
            },
            sizes=[src.sizes],
        )

    # ---- training (fairseq's own steps; traced per rank with XDOMAIN_RANK_TRACE, see distributed.py)
    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        trace_train_step(sample, model, update_num, ignore_grad)
        self._last_update = update_num
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)

    def begin_valid_epoch(self, epoch, model):
        super().begin_valid_epoch(epoch, model)
        if tracing():
            rank_trace("valid", epoch=int(epoch), params=param_digest(model),
                       after_update=getattr(self, "_last_update", -1) + 1)

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    def max_positions(self):
        return self.cfg.tokens_per_sample

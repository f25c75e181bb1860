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
``xlm_mlm_loss`` logs the loss, perplexity and masked-token accuracy of each language. Data
without a monolingual valid split trains without validation (a warning says so).

A thin fairseq adapter: the block datasets and the language sampling are in
``datasets/mlm_blocks.py``, the sentencepiece word starts in ``noise.word_start_table``.

"Wiki only" vs "Wiki + UN" is the same command with other data: point ``DATA`` (or
``--data-per-lang en=WIKI/en,fr=UN/fr``) at the folders to use.
"""

import contextlib
import filecmp
import logging
import os
from dataclasses import dataclass, field

import torch
from fairseq.data import (
    ConcatDataset,
    Dictionary,
    PrependTokenDataset,
    ResamplingDataset,
    TokenBlockDataset,
    TruncateDataset,
    data_utils,
    indexed_dataset,
)
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.tasks import register_task
from omegaconf import II, MISSING, OmegaConf, open_dict

from ..common.errors import UserError
from ..datasets.mlm_blocks import (
    EvalBlocksDataset,
    FreshOrFixedMaskTokensDataset,
    ShuffledBySizeDataset,
    language_sampling_probs,
    tagged_blocks,
)
from ..distributed import trace_train_step
from ..noise import SPM_WORD_START, word_start_table
from .shared import JointDictionaryTask, parse_langs

logger = logging.getLogger(__name__)

BREAK_MODES = ChoiceEnum(["none", "complete", "eos"])


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
class XLMMLMTask(JointDictionaryTask):
    """Masked-LM pre-training on several languages with language embeddings (XLM)."""

    cfg: XLMMLMConfig

    def __init__(self, cfg: XLMMLMConfig, dictionary: Dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.mask_idx = dictionary.add_symbol("<mask>")
        self.langs = parse_langs(cfg.langs)
        self.lang_dirs = self.parse_lang_dirs(cfg)
        if cfg.tokens_per_sample < 2:
            raise UserError(f"--tokens-per-sample must be >= 2, got {cfg.tokens_per_sample}")
        if not 0.0 < cfg.mask_prob < 1.0:
            raise UserError(f"--mask-prob must be in (0, 1), got {cfg.mask_prob}")
        self.word_starts = None
        if cfg.mask_whole_words:
            if not any(s.startswith(SPM_WORD_START) for s in dictionary.symbols):
                raise UserError(
                    f"{os.path.join(cfg.data, 'dict.txt')}: no sentencepiece word-start piece "
                    "('▁...'); --mask-whole-words needs a sentencepiece vocabulary"
                )
            starts = word_start_table(dictionary.symbols, dictionary.nspecial, sentencepiece=True)
            self.word_starts = starts.to(torch.uint8)
            logger.info("whole-word masking: %d of %d pieces start a word", int(starts.sum()),
                        len(starts))

    # ---- configuration
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
        task._disable_validation_without_valid_data(cfg)
        return task

    def _has_split(self, lang: str, split: str) -> bool:
        return indexed_dataset.infer_dataset_impl(os.path.join(self.lang_dirs[lang], split)) is not None

    def _disable_validation_without_valid_data(self, cfg) -> None:
        """``fairseq-train`` on data with no monolingual valid split: validation off, logged.

        fairseq hands the task its part of the run's config; the run's ``dataset`` options are
        its parent's. When no language has any of ``--valid-subset``, ``--disable-validation``
        is set there (fairseq reads it before loading the valid data) instead of failing.
        """
        run_cfg = cfg._get_parent() if OmegaConf.is_config(cfg) else None
        dataset = getattr(run_cfg, "dataset", None) if run_cfg is not None else None
        if dataset is None or dataset.disable_validation:
            return
        subsets = [s for s in str(dataset.valid_subset).split(",") if s]
        if any(self._has_split(lang, s) for lang in self.langs for s in subsets):
            return
        with open_dict(dataset):
            dataset.disable_validation = True
        looked = ", ".join(os.path.join(self.lang_dirs[lang], f"{s}.bin")
                           for lang in self.langs for s in subsets)
        logger.warning("no monolingual valid split (%s): validation disabled, as with "
                       "--disable-validation", looked)

    # ---- model
    def build_model(self, cfg, from_checkpoint=False):
        """The ``xlm_encoder`` model. Built to load a saved checkpoint (``from_checkpoint``:
        ``checkpoint_utils.load_model_ensemble_and_task``, ``from_pretrained``), it does not read
        ``--reload-emb``'s word vectors: the checkpoint's weights hold them, and the files may be
        gone; a checkpoint re-reads no path of its training run but the dictionary (``--data``)."""
        if from_checkpoint and getattr(cfg, "reload_emb", ""):
            logger.info("--reload-emb %s not read: the checkpoint holds the embeddings", cfg.reload_emb)
            with open_dict(cfg) if OmegaConf.is_config(cfg) else contextlib.nullcontext():
                cfg.reload_emb = ""
        return super().build_model(cfg, from_checkpoint)

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
        return tagged_blocks(src, lang_id, self.dictionary.pad(), target=tgt)

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
        return tagged_blocks(src, lang_id, pad)

    # ---- training (fairseq's own steps; traced per rank with XDOMAIN_RANK_TRACE, see distributed.py)
    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        trace_train_step(sample, model, update_num, ignore_grad)
        self._last_update = update_num
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)

    def max_positions(self):
        return self.cfg.tokens_per_sample

"""Monolingual training sentences of every language, each with its noisy version (UNMT).

An item is ``{"id", "source": noisy sentence, "target": clean sentence, "src_lang",
"tgt_lang"}`` (both languages the sentence's own): the denoising pair of ``noise.add_noise``;
the task's back-translation reuses its clean ``target``. Batches follow ``lang_batch.collate``.
"""
import logging

import numpy as np
import torch

from ..noise import NoiseConfig, add_noise, noise_rng
from .lang_batch import LangBatchDataset, min_limit, position_limits, with_eos

logger = logging.getLogger(__name__)


class MonolingualNoisyDataset(LangBatchDataset):
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
        limit = min_limit(self.max_len_option, *position_limits(max_positions))
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
        clean = with_eos(ds[j].long(), eos, self.max_len)
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

"""Dev/test translation directions of the UNMT task, scored completely.

An item is ``{"id", "source", "target" (the whole reference, or None for inference),
"src_lang", "tgt_lang"}``; batches follow ``lang_batch.collate``.
"""
import logging

import numpy as np

from .lang_batch import LangBatchDataset, min_limit, position_limits, with_eos

logger = logging.getLogger(__name__)


class ParallelLangDataset(LangBatchDataset):
    """One or more translation directions, each item tagged with (src_lang, tgt_lang).

    Dev/test sets are scored completely, one documented way: no sentence is ever dropped
    (neither by size nor by fairseq's batch-size multiple); a source longer than the limit
    (``--max-source-positions`` and the model's positions, whichever is smaller; set by
    ``UnmtXdomainTask.get_batch_iterator``) keeps its first ``limit - 1`` tokens and ``eos``
    (``with_eos``), counted and logged per direction; the reference (``target``) is never cut.
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
        src_max, tgt_max = position_limits(max_positions)
        limits = (min_limit(self.max_len_option, src_max), tgt_max)
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
        item = {"id": index, "source": with_eos(src[j].long(), eos, self.max_len),
                "src_lang": sl, "tgt_lang": tl, "target": None}
        if tgt is not None:
            item["target"] = with_eos(tgt[j].long(), eos, 10 ** 9)
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

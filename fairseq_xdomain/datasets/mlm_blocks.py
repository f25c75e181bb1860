"""Masked-LM block datasets of the ``xlm_mlm`` task and XLM's language sampling.

- ``language_sampling_probs``: ``p_l ~ n_l^alpha`` over the languages' corpus sizes;
- ``FreshOrFixedMaskTokensDataset``: fairseq's ``MaskTokensDataset``, fresh masks every epoch
  (training) or the same masks every epoch (validation);
- ``ShuffledBySizeDataset``: batches ordered by the current block sizes, ties shuffled;
- ``EvalBlocksDataset``: the same, and every block is scored whatever the batch-size multiple;
- ``tagged_blocks``: the ``xlm_mlm`` batch of one language's blocks, tagged with its id.
"""

import numpy as np
from fairseq.data import (
    BaseWrapperDataset,
    IdDataset,
    MaskTokensDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    RawLabelDataset,
    RightPadDataset,
)


def language_sampling_probs(sizes, alpha: float) -> np.ndarray:
    """XLM's smoothed language sampling: ``p_l = q_l^alpha / sum_k q_k^alpha`` with ``q = sizes/sum``.

    ``sizes`` [L]: positive corpus sizes (blocks or sentences); returns probabilities [L].
    alpha=1 keeps the natural proportions, alpha=0 samples languages uniformly.
    Raises ValueError for an empty or non-positive ``sizes`` or a negative ``alpha``.
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    if sizes.ndim != 1 or len(sizes) == 0 or (sizes <= 0).any():
        raise ValueError(f"need positive corpus sizes, got {sizes.tolist()}")
    if alpha < 0:
        raise ValueError(f"--sample-alpha must be >= 0, got {alpha}")
    q = sizes / sizes.sum()
    p = q**alpha
    return p / p.sum()


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


def tagged_blocks(src, lang_id: int, pad: int, target=None) -> NestedDictionaryDataset:
    """The ``xlm_mlm`` batch of one language: ``id``; ``net_input`` = ``src_tokens`` [B, T]
    (right-padded), ``src_lengths`` [B], ``src_langs`` [B] (all ``lang_id``); with ``target``
    (the masked-LM targets, ``pad`` where nothing is predicted) also ``target`` [B, T],
    ``nsentences`` and ``ntokens``. ``src``, ``target``: datasets of 1-D token tensors."""
    items = {
        "id": IdDataset(),
        "net_input": {
            "src_tokens": RightPadDataset(src, pad_idx=pad),
            "src_lengths": NumelDataset(src, reduce=False),
            "src_langs": RawLabelDataset(np.full(len(src), lang_id, dtype=np.int64)),
        },
    }
    if target is not None:
        items.update({
            "target": RightPadDataset(target, pad_idx=pad),
            "nsentences": NumSamplesDataset(),
            "ntokens": NumelDataset(src, reduce=True),
        })
    return NestedDictionaryDataset(items, sizes=[src.sizes])

"""The batch contract and the truncation rule of the ``unmt_xdomain`` datasets.

An item is ``{"id", "source", "target" (or None), "src_lang", "tgt_lang"}`` (1-D LongTensors
ending with ``eos``; language ids in the task's ``--langs`` order). ``collate`` makes the
fairseq translation-style batch: ``net_input`` = ``src_tokens`` [B, S] (right-padded),
``src_lengths`` [B], ``src_langs`` [B], ``tgt_langs`` [B] and, with targets,
``prev_output_tokens`` [B, T] (``eos`` first); ``target`` [B, T]; ``ntokens``; ``nsentences``.
``src_langs`` is the key the ``xlm_mlm`` batches use too.

The truncation rule (``with_eos``): a source longer than the limit keeps its first
``limit - 1`` tokens and its ``eos``; the limit is the smallest of the option and the model's
positions (``position_limits``, ``min_limit``).
"""
from __future__ import annotations

import numpy as np
import torch
from fairseq.data import FairseqDataset, data_utils


def collate(samples, pad: int, eos: int) -> dict:
    """Items {id, source, target?, src_lang, tgt_lang} -> fairseq translation-style batch.

    Returns ``{}`` for no item (fairseq's empty batch); see the module docstring for the keys.
    """
    if not samples:
        return {}
    src = data_utils.collate_tokens([s["source"] for s in samples], pad, eos, left_pad=False)
    batch = {
        "id": torch.LongTensor([s["id"] for s in samples]),
        "nsentences": len(samples),
        "net_input": {
            "src_tokens": src,
            "src_lengths": torch.LongTensor([len(s["source"]) for s in samples]),
            "src_langs": torch.LongTensor([s["src_lang"] for s in samples]),
            "tgt_langs": torch.LongTensor([s["tgt_lang"] for s in samples]),
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


def with_eos(tokens: torch.Tensor, eos: int, max_len: int) -> torch.Tensor:
    """The sentence [N] ending with one ``eos``, cut to at most ``max_len`` tokens (``eos`` kept).

    THE truncation rule of the UNMT task: a source longer than the model's positions keeps its
    first ``max_len - 1`` tokens and its ``eos`` (training, validation, generate, eval-bleu).
    """
    body = tokens[:-1] if len(tokens) and tokens[-1] == eos else tokens
    body = body[: max_len - 1]
    return torch.cat([body, body.new_tensor([eos])])


def position_limits(max_positions) -> tuple[int | None, int | None]:
    """(source, target) limits from fairseq's resolved ``max_positions`` (int, tuple or None)."""
    if max_positions is None:
        return None, None
    if isinstance(max_positions, (tuple, list)):
        src, tgt = (list(max_positions) + [None, None])[:2]
        return src, tgt
    return max_positions, max_positions


def min_limit(*values) -> int | None:
    """The smallest of the given limits, ignoring None; None when all are None."""
    values = [int(v) for v in values if v is not None]
    return min(values) if values else None


def clip_target_for_loss(sample: dict, max_len: int, pad: int) -> dict:
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


class LangBatchDataset(FairseqDataset):
    """Shared batching of the UNMT datasets: ``collate`` with ``self.dictionary``; ``self.sizes``."""

    def collater(self, samples):
        return collate(samples, self.dictionary.pad(), self.dictionary.eos())

    def num_tokens(self, index):
        return int(self.sizes[index])

    def num_tokens_vec(self, indices):
        return self.sizes[indices]


class TokensListDataset:
    """A list of 1-D token tensors as an indexed dataset (``len``, ``[i]``, ``sizes``): the
    sentences ``fairseq-interactive`` hands to ``build_dataset_for_inference``."""

    def __init__(self, items):
        self.items = list(items)
        self.sizes = np.array([len(t) for t in self.items], dtype=np.int64)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

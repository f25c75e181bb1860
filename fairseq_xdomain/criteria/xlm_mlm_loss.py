"""Masked-LM loss with masked-token accuracy and per-language loss/perplexity (``xlm_mlm_loss``).

Cross-entropy on the masked positions only (the model projects only those through its LM head).
Logged: ``loss``/``ppl`` (bits per masked token, as fairseq's ``masked_lm``), ``accuracy`` (% of
masked tokens predicted exactly) and, for every language of the task, ``loss_{lang}``,
``ppl_{lang}``, ``accuracy_{lang}``. Every rank emits the same logging keys (zeros for a
language absent from its batch), so fairseq's fast all-reduce of logging outputs stays aligned.
"""

import math

import torch
import torch.nn.functional as F
from fairseq import utils
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from fairseq.logging import metrics

_PREFIX = "lang:"


def masked_lm_token_stats(logits, targets, lang_ids, num_langs):
    """Per-token masked-LM statistics (plain PyTorch).

    Returns ``(loss_sum, n_correct, per_lang_loss[L], per_lang_count[L], per_lang_correct[L])``
    with the loss in nats, summed over the given tokens.
    """
    nll = F.cross_entropy(logits.float(), targets, reduction="none")
    correct = logits.argmax(-1).eq(targets)
    lang_loss = torch.zeros(num_langs, dtype=nll.dtype, device=nll.device)
    lang_loss.index_add_(0, lang_ids, nll.detach())
    lang_count = torch.bincount(lang_ids, minlength=num_langs)
    lang_correct = torch.bincount(lang_ids, weights=correct.to(nll.dtype), minlength=num_langs)
    return nll.sum(), correct.sum(), lang_loss, lang_count, lang_correct


@register_criterion("xlm_mlm_loss", dataclass=FairseqDataclass)
class XLMMaskedLMLoss(FairseqCriterion):
    """MLM cross-entropy; logs accuracy and per-language loss/ppl/accuracy."""

    def __init__(self, task):
        super().__init__(task)
        self.langs = list(getattr(task, "langs", None) or ["all"])

    def forward(self, model, sample, reduce=True):
        target = sample["target"]
        masked = target.ne(self.padding_idx)
        sample_size = int(masked.sum())
        src_langs = sample["net_input"].get("src_langs")
        if src_langs is None:
            src_langs = target.new_zeros(target.size(0))
        if sample_size == 0:
            # nothing masked (tiny batch): project every position so that every parameter still
            # takes part in the graph (DDP), with a zero loss
            logits = model(**sample["net_input"], masked_tokens=None)[0]
            loss = logits.sum() * 0.0
            zeros = torch.zeros(len(self.langs), device=logits.device)
            stats = (loss.detach(), torch.zeros((), device=logits.device), zeros, zeros, zeros)
        else:
            logits = model(**sample["net_input"], masked_tokens=masked)[0]
            lang_ids = src_langs.view(-1, 1).expand_as(target)[masked]
            loss, *rest = masked_lm_token_stats(logits, target[masked], lang_ids, len(self.langs))
            stats = (loss.detach(), *rest)
        loss_sum, n_correct, lang_loss, lang_count, lang_correct = stats
        logging_output = {
            "loss": loss_sum.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": sample_size,
            "ncorrect": n_correct.data.float(),
        }
        for i, lang in enumerate(self.langs):
            logging_output[f"{_PREFIX}{lang}:loss"] = lang_loss[i].data
            logging_output[f"{_PREFIX}{lang}:n"] = lang_count[i].data.float()
            logging_output[f"{_PREFIX}{lang}:correct"] = lang_correct[i].data.float()
        return loss, sample_size, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):
            return float(sum(log.get(key, 0) for log in logging_outputs))

        sample_size = total("sample_size")
        if sample_size > 0:
            metrics.log_scalar("loss", total("loss") / sample_size / math.log(2), sample_size,
                               round=3)
            metrics.log_scalar("accuracy", 100.0 * total("ncorrect") / sample_size, sample_size,
                               round=2)
        else:
            metrics.log_scalar("loss", 0.0, 0, round=3)
        metrics.log_derived("ppl", lambda meters: utils.get_perplexity(meters["loss"].avg))
        langs = sorted({k.split(":")[1] for log in logging_outputs for k in log
                        if k.startswith(_PREFIX)})
        for lang in langs:
            n = total(f"{_PREFIX}{lang}:n")
            if n <= 0:
                continue
            metrics.log_scalar(f"loss_{lang}", total(f"{_PREFIX}{lang}:loss") / n / math.log(2),
                               n, round=3)
            metrics.log_scalar(f"accuracy_{lang}", 100.0 * total(f"{_PREFIX}{lang}:correct") / n,
                               n, round=2)
            metrics.log_derived(
                f"ppl_{lang}",
                lambda meters, key=f"loss_{lang}": utils.get_perplexity(meters[key].avg),
            )

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True

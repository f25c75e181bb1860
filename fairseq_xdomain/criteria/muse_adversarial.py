"""fairseq criterion ``muse_adversarial``: MUSE's discriminator or mapping loss for one step.

The task decides the phase of each update (``dis_steps`` discriminator updates, then one mapping
update) and puts it in the sample with the sampled word ids and dropout masks; this criterion
computes the loss with the shared functions of :mod:`fairseq_xdomain.ubli.adversarial`:
BCE with label smoothing on (mapped source, target) for the discriminator; for the mapping, the
flipped labels on the mapped source half (the target half does not depend on W), divided by the
full batch of 2 x batch_size like MUSE's mean.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion

from ..ubli.adversarial import dis_targets


@register_criterion("muse_adversarial")
class MuseAdversarialCriterion(FairseqCriterion):
    def __init__(self, task):
        super().__init__(task)

    def forward(self, model, sample, reduce=True):
        task = self.task
        dtype = model.mapping.dtype
        src = task.src_emb.to(dtype)[sample["src_ids"]]
        smooth = task.cfg.dis_smooth
        bs = sample["src_ids"].shape[0]
        if sample["phase"] == "dis":
            with torch.no_grad():
                mapped = model.map(src)
            x = torch.cat([mapped, task.tgt_emb.to(dtype)[sample["tgt_ids"]]], dim=0)
            x = x * sample["mask"].to(dtype)
            logits = model(x).float()
            y = dis_targets(bs, smooth, logits.device)
            loss = F.binary_cross_entropy_with_logits(logits, y, reduction="sum") / (2 * bs)
        else:
            x = model.map(src) * sample["mask"][:bs].to(dtype)
            logits = model(x).float()
            y = torch.full_like(logits, smooth)
            loss = F.binary_cross_entropy_with_logits(logits, y, reduction="sum") / (2 * bs)
        logging_output = {
            "loss": loss.detach().item(), "dis_loss": loss.detach().item() if sample["phase"] == "dis" else 0.0,
            "dis_steps": 1 if sample["phase"] == "dis" else 0, "ntokens": 2 * bs,
            "nsentences": 2 * bs, "sample_size": 1,
        }
        return loss, 1, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        loss = sum(log.get("loss", 0) for log in logging_outputs)
        n = max(len(logging_outputs), 1)
        metrics.log_scalar("loss", loss / n, n, round=4)
        dis = sum(log.get("dis_loss", 0) for log in logging_outputs)
        nd = sum(log.get("dis_steps", 0) for log in logging_outputs)
        if nd:
            metrics.log_scalar("dis_loss", dis / nd, nd, round=4)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return False

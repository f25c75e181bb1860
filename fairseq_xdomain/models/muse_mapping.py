"""fairseq model ``muse_mapping``: the linear map W and MUSE's discriminator as fairseq parameters.

A thin adapter over :mod:`fairseq_xdomain.ubli.adversarial`: the same initialisation
(``init_discriminator``), forward (``discriminator_logits``) and orthogonality update
(``orthogonalize``). ``mapped = x @ W``. The discriminator is stored as batched weights with one
seed (``[1, in, out]``) so that a checkpoint's weights load straight into ``BatchedAdversarial``.
"""

from dataclasses import dataclass

import torch
from fairseq.dataclass import FairseqDataclass
from fairseq.models import BaseFairseqModel, register_model

from ..common.dataclass_args import config_field
from ..ubli.adversarial import (
    AdversarialConfig,
    discriminator_logits,
    init_discriminator,
    orthogonalize,
)


@dataclass
class MuseMappingConfig(FairseqDataclass):
    # default and help declared once, in ubli.adversarial.AdversarialConfig
    dis_layers: int = config_field(AdversarialConfig, "dis_layers")
    dis_hid_dim: int = config_field(AdversarialConfig, "dis_hid_dim")
    map_beta: float = config_field(AdversarialConfig, "map_beta")


@register_model("muse_mapping", dataclass=MuseMappingConfig)
class MuseMappingModel(BaseFairseqModel):
    def __init__(self, cfg: MuseMappingConfig, dim: int, seed: int):
        super().__init__()
        self.cfg = cfg
        gen = torch.Generator().manual_seed(seed)
        self.mapping = torch.nn.Parameter(torch.eye(dim))
        layers = init_discriminator(dim, cfg.dis_hid_dim, cfg.dis_layers, [gen])
        self.dis_weights = torch.nn.ParameterList([torch.nn.Parameter(w) for w, _ in layers])
        self.dis_biases = torch.nn.ParameterList([torch.nn.Parameter(b) for _, b in layers])

    @classmethod
    def build_model(cls, cfg, task):
        from ..common.errors import UserError

        if cfg.dis_layers < 0 or cfg.dis_hid_dim < 1:
            raise UserError(f"--dis-layers {cfg.dis_layers} / --dis-hid-dim {cfg.dis_hid_dim}: "
                            "need --dis-layers >= 0 and --dis-hid-dim >= 1")
        return cls(cfg, task.dim, task.cfg.muse_seed)

    def map(self, x):
        """Mapped source vectors ``x @ W``."""
        return x @ self.mapping

    def forward(self, x):
        """Discriminator logits for ``x [B, d]`` (input dropout is applied by the criterion)."""
        layers = list(zip(self.dis_weights, self.dis_biases))
        return discriminator_logits(layers, x.unsqueeze(0)).squeeze(0)

    def discriminator_parameters(self):
        return list(self.dis_weights) + list(self.dis_biases)

    @torch.no_grad()
    def orthogonalize_(self, optimizer=None):
        """Orthogonality update of W, applied where the optimizer keeps the weights.

        With ``--fp16``/``--bf16`` fairseq's FP16Optimizer keeps fp32 master weights and copies
        them over the model's after every step, which would undo an in-place edit of the model
        parameter: the update is computed on the master copy and written to both.
        """
        master = master_param(optimizer, self.mapping) if optimizer is not None else None
        src = master if master is not None else self.mapping
        new = orthogonalize(src.data.float(), self.cfg.map_beta)
        if master is not None:
            master.data.copy_(new.view_as(master))
        self.mapping.data.copy_(new.to(self.mapping.dtype))


def master_param(optimizer, param):
    """The fp32 master copy of ``param`` kept by fairseq's FP16Optimizer, or None (no copy)."""
    fp32 = getattr(optimizer, "fp32_params", None)
    fp16_params = getattr(optimizer, "fp16_params", None)
    if fp32 is None or fp16_params is None:
        return None  # fp32 training, --amp, --memory-efficient-fp16: parameters are the weights
    if optimizer.has_flat_params:
        flat = next(iter(fp32.values())) if isinstance(fp32, dict) else fp32
        offset = 0
        for p in fp16_params:
            if p is param:
                return flat.data[offset:offset + p.numel()].view(p.shape)
            offset += p.numel()
        return None
    for p, p32 in zip(fp16_params, fp32):
        if p is param:
            return p32
    return None

"""XLM-style transformer encoder with token, position and language embeddings (``--arch xlm_encoder*``).

The masked-LM model pre-trained by the ``xlm_mlm`` task and used to initialise the UNMT encoder
and decoder. A post-norm transformer encoder built from fairseq's ``TransformerEncoderLayerBase``:

    x = embed_tokens(tokens) + embed_positions(0..T-1) + embed_langs(lang)
    x = dropout(layernorm_embedding(x)); padded positions are zeroed
    x = layers(x)                                  (post-norm, GELU by default)
    logits = lm_head(x)  = LayerNorm(gelu(dense(x))) @ embed_tokens.weight^T + lm_head.bias

State-dict names (the contract in docs/design.md, section "xlm_encoder parameter names"):
``encoder.embed_tokens.weight``, ``encoder.embed_positions.weight`` (position i at row i),
``encoder.embed_langs.weight`` (rows in ``--langs`` order), ``encoder.layernorm_embedding.*``,
``encoder.layers.{i}.*`` (fairseq encoder-layer names), ``encoder.lm_head.{dense,layer_norm}.*``,
``encoder.lm_head.bias``. The output projection is tied to ``embed_tokens`` (no separate weight).

Every parameter takes part in every forward pass (language embeddings always, the LM head on the
masked positions, or on all positions when a batch has none), so DDP needs no
``--find-unused-parameters``.

Archs: ``xlm_encoder`` (default: XLM's sizes), ``xlm_encoder_base`` (XLM: 1024-d, 6 layers,
8 heads, FFN 4096, GELU, learned positions, dropout 0.1) and ``xlm_encoder_tiny`` (tests, CPU).
"""

import logging
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq import utils
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models import (
    FairseqEncoder,
    FairseqEncoderModel,
    register_model,
    register_model_architecture,
)
from fairseq.models.transformer.transformer_config import EncDecBaseConfig, TransformerConfig
from fairseq.modules import LayerNorm
from fairseq.modules.transformer_layer import TransformerEncoderLayerBase

logger = logging.getLogger(__name__)

ACTIVATIONS = ChoiceEnum(["gelu", "relu", "gelu_accurate", "tanh", "linear"])


@dataclass
class XLMEncoderConfig(FairseqDataclass):
    encoder_embed_dim: int = field(default=1024, metadata={"help": "model dimension"})
    encoder_ffn_embed_dim: int = field(default=4096, metadata={"help": "FFN hidden dimension"})
    encoder_layers: int = field(default=6, metadata={"help": "number of transformer layers"})
    encoder_attention_heads: int = field(default=8, metadata={"help": "attention heads"})
    activation_fn: ACTIVATIONS = field(default="gelu", metadata={"help": "activation"})
    dropout: float = field(default=0.1, metadata={"help": "dropout"})
    attention_dropout: float = field(default=0.1, metadata={"help": "attention dropout"})
    activation_dropout: float = field(default=0.0, metadata={"help": "dropout after the FFN activation"})
    max_positions: int = field(
        default=512, metadata={"help": "rows of the learned position embeddings"}
    )
    reload_emb: str = field(
        default="",
        metadata={"help": "initialise the token embeddings from word vectors (fastText .vec; "
                  "comma-separated files, e.g. the per-language exports of one joint model; the "
                  "first file wins for a word in several); their dimension must be the model's. "
                  "Read whenever the model is built (also when a run resumes, where the checkpoint's "
                  "weights then replace them), so keep the files until pre-training is done; "
                  "loading the finished checkpoint (--init-from-mlm, fairseq's loaders) does not "
                  "read them"},
    )


class XLMLMHead(nn.Module):
    """dense -> activation -> LayerNorm -> projection tied to the token embeddings (+ bias)."""

    def __init__(self, embed_dim, activation_fn, vocab_size):
        super().__init__()
        self.dense = nn.Linear(embed_dim, embed_dim)
        self.activation_fn = utils.get_activation_fn(activation_fn)
        self.layer_norm = LayerNorm(embed_dim)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, x, weight):
        """``weight`` is the token embedding matrix (tied, so it is passed, not stored)."""
        x = self.layer_norm(self.activation_fn(self.dense(x)))
        return F.linear(x, weight, self.bias)


class XLMEncoder(FairseqEncoder):
    """Transformer encoder with language embeddings and a tied masked-LM head."""

    def __init__(self, cfg: XLMEncoderConfig, dictionary, num_langs: int):
        super().__init__(dictionary)
        dim = cfg.encoder_embed_dim
        self.padding_idx = dictionary.pad()
        self.max_source_positions = cfg.max_positions
        self.embed_tokens = nn.Embedding(len(dictionary), dim, padding_idx=self.padding_idx)
        self.embed_positions = nn.Embedding(cfg.max_positions, dim)
        self.embed_langs = nn.Embedding(num_langs, dim)
        for emb in (self.embed_tokens, self.embed_positions, self.embed_langs):
            nn.init.normal_(emb.weight, mean=0.0, std=dim**-0.5)
        nn.init.zeros_(self.embed_tokens.weight[self.padding_idx])
        self.layernorm_embedding = LayerNorm(dim)
        self.dropout = cfg.dropout
        layer_cfg = TransformerConfig(
            encoder=EncDecBaseConfig(
                embed_dim=dim,
                ffn_embed_dim=cfg.encoder_ffn_embed_dim,
                attention_heads=cfg.encoder_attention_heads,
                normalize_before=False,
            ),
            dropout=cfg.dropout,
            attention_dropout=cfg.attention_dropout,
            activation_dropout=cfg.activation_dropout,
            activation_fn=cfg.activation_fn,
        )
        self.layers = nn.ModuleList(
            [TransformerEncoderLayerBase(layer_cfg) for _ in range(cfg.encoder_layers)]
        )
        self.lm_head = XLMLMHead(dim, cfg.activation_fn, len(dictionary))

    def extract_features(self, src_tokens, src_langs=None):
        """Return hidden states [B, T, C] of the last layer."""
        bsz, seqlen = src_tokens.shape
        if seqlen > self.max_source_positions:
            raise ValueError(
                f"input of {seqlen} tokens exceeds the {self.max_source_positions} learned positions"
            )
        if src_langs is None:
            src_langs = src_tokens.new_zeros(bsz)
        padding_mask = src_tokens.eq(self.padding_idx)
        positions = torch.arange(seqlen, device=src_tokens.device)
        x = (
            self.embed_tokens(src_tokens)
            + self.embed_positions(positions)[None, :, :]
            + self.embed_langs(src_langs.view(-1))[:, None, :]
        )
        x = self.layernorm_embedding(x)
        x = F.dropout(x, p=self.dropout, training=self.training)
        x = x * (~padding_mask).unsqueeze(-1).type_as(x)
        x = x.transpose(0, 1)  # T x B x C
        mask = padding_mask if padding_mask.any() else None
        for layer in self.layers:
            x = layer(x, encoder_padding_mask=mask)
        return x.transpose(0, 1)

    def forward(self, src_tokens, src_lengths=None, src_langs=None, masked_tokens=None,
                features_only=False, **unused):
        x = self.extract_features(src_tokens, src_langs)
        if features_only:
            return x, {}
        if masked_tokens is not None:
            x = x[masked_tokens]
        return self.lm_head(x, self.embed_tokens.weight), {}

    def max_positions(self):
        return self.max_source_positions

    def reorder_encoder_out(self, encoder_out, new_order):
        return encoder_out


@register_model("xlm_encoder", dataclass=XLMEncoderConfig)
class XLMEncoderModel(FairseqEncoderModel):
    """Masked-LM model of the ``xlm_mlm`` task. ``forward`` returns ``(logits, extra)``."""

    @classmethod
    def build_model(cls, cfg: XLMEncoderConfig, task):
        langs = getattr(task, "langs", None) or ["__default__"]
        max_tokens = getattr(getattr(task, "cfg", None), "tokens_per_sample", None)
        if max_tokens is not None and max_tokens > cfg.max_positions:
            from ..common.errors import UserError

            raise UserError(
                f"--tokens-per-sample {max_tokens} exceeds the model's --max-positions "
                f"{cfg.max_positions}"
            )
        encoder = XLMEncoder(cfg, task.source_dictionary, num_langs=len(langs))
        if cfg.reload_emb:
            report = reload_embeddings(encoder.embed_tokens, task.source_dictionary, cfg.reload_emb)
            logger.info("reloaded token embeddings from %s: %d of %d dictionary symbols covered "
                        "(%d vectors read), scaled by %.3g", cfg.reload_emb, report["covered"],
                        report["dictionary_size"], report["vectors_read"], report["scale"])
        logger.info(
            "xlm_encoder: %d layers, dim %d, %d languages (%s), %d parameters",
            cfg.encoder_layers, cfg.encoder_embed_dim, len(langs), ",".join(langs),
            sum(p.numel() for p in encoder.parameters()),
        )
        return cls(encoder)

    def forward(self, src_tokens, src_lengths=None, src_langs=None, masked_tokens=None, **kwargs):
        return self.encoder(src_tokens, src_lengths, src_langs=src_langs,
                            masked_tokens=masked_tokens, **kwargs)

    def max_positions(self):
        return self.encoder.max_positions()


def reload_embeddings(embed: nn.Embedding, dictionary, paths: str) -> dict:
    """Copy word vectors into the rows of ``embed`` for the dictionary symbols they cover.

    The vectors are scaled by one factor so that their mean norm is that of the random rows
    (the model's initial scale): the geometry (cosines, neighbours) is kept, and the sum with
    position and language embeddings stays balanced. Uncovered rows keep their random init.
    Returns counts: ``covered``, ``dictionary_size``, ``vectors_read``, ``scale``.
    """
    import numpy as np

    from ..common.errors import UserError
    from ..embeddings.vecio import load_vec

    dim = embed.weight.shape[1]
    rows, vectors, read = [], [], 0
    seen = set()
    for path in [p for p in paths.split(",") if p]:
        wv = load_vec(path)
        if wv.dim != dim:
            raise UserError(f"{path}: vectors have dimension {wv.dim}, the model's embeddings {dim}")
        read += len(wv)
        for word, vec in zip(wv.words, wv.vectors):
            idx = dictionary.index(word)
            if idx == dictionary.unk() or word in seen:
                continue
            seen.add(word)
            rows.append(idx)
            vectors.append(vec)
    if not rows:
        raise UserError(f"{paths}: no word of the vectors is in the model's dictionary")
    with torch.no_grad():
        vecs = torch.from_numpy(np.stack(vectors)).to(embed.weight)
        target = embed.weight.norm(dim=1)[torch.tensor(rows)].mean()
        scale = float(target / vecs.norm(dim=1).mean().clamp_min(1e-12))
        embed.weight[torch.tensor(rows)] = vecs * scale
    return {"covered": len(rows), "dictionary_size": len(dictionary), "vectors_read": read,
            "scale": scale}


def _set(args, **defaults):
    for name, value in defaults.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)


def xlm_encoder_default(args):
    """XLM's sizes (also the dataclass defaults of the auto-registered ``xlm_encoder`` arch)."""
    _set(args, encoder_embed_dim=1024, encoder_ffn_embed_dim=4096, encoder_layers=6,
         encoder_attention_heads=8, activation_fn="gelu", dropout=0.1, attention_dropout=0.1,
         activation_dropout=0.0, max_positions=512, reload_emb="")


@register_model_architecture("xlm_encoder", "xlm_encoder_base")
def xlm_encoder_base(args):
    """XLM (Lample & Conneau 2019): 1024-d, 6 layers, 8 heads, GELU, learned positions, dropout 0.1."""
    xlm_encoder_default(args)


@register_model_architecture("xlm_encoder", "xlm_encoder_tiny")
def xlm_encoder_tiny(args):
    """A small model for tests and CPU runs: 64-d, 2 layers, 4 heads."""
    _set(args, encoder_embed_dim=64, encoder_ffn_embed_dim=128, encoder_layers=2,
         encoder_attention_heads=4, dropout=0.0, attention_dropout=0.0, max_positions=256)
    xlm_encoder_default(args)

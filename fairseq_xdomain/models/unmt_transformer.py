"""UNMT encoder-decoder (XLM-style): shared token embeddings, learned positions, language embeddings.

Archs: ``unmt_transformer`` (6 + 6 layers, 1024-d, 8 heads, GELU: the XLM/paper size) and
``unmt_transformer_tiny`` (CPU tests). Post-norm layers from fairseq's
``TransformerEncoderLayerBase``/``TransformerDecoderLayerBase``, so parameter names match the
``xlm_encoder`` MLM checkpoint (docs/design.md) and ``--init-from-mlm`` is a renaming
(``mlm_checkpoint``, called by the task).

Languages: every batch carries ``src_langs`` and ``tgt_langs`` (LongTensor [B], ids in the task's
``--langs`` order; ``src_langs`` is the key of the ``xlm_mlm`` batches too). The encoder adds the
source language embedding to every source token and passes ``tgt_langs`` on in its output,
so the decoder adds the *target* language embedding at every step: training, validation, back-translation, ``fairseq-generate`` and
``fairseq-interactive`` all start decoding from ``eos`` with the target language embedding.
"""
from __future__ import annotations

import logging
from argparse import Namespace

import torch
import torch.nn as nn
import torch.nn.functional as F
from fairseq import utils
from fairseq.models import (
    FairseqEncoder,
    FairseqEncoderDecoderModel,
    FairseqIncrementalDecoder,
    register_model,
    register_model_architecture,
)
from fairseq.models.transformer import TransformerConfig
from fairseq.modules import FairseqDropout, LayerNorm
from fairseq.modules.transformer_layer import (
    TransformerDecoderLayerBase,
    TransformerEncoderLayerBase,
)
from torch import Tensor

from ..common.errors import UserError

logger = logging.getLogger(__name__)


def _positions(tokens: Tensor, pad: int) -> Tensor:
    """Position of each token counted over non-pad tokens (left or right padding alike)."""
    nonpad = tokens.ne(pad)
    return (torch.cumsum(nonpad.long(), dim=1) - 1).clamp(min=0)


def _layer_cfg(args) -> TransformerConfig:
    ns = Namespace(**vars(args))
    for key in ("embed_dim", "ffn_embed_dim", "attention_heads"):
        setattr(ns, f"decoder_{key}", getattr(args, f"encoder_{key}"))
    ns.encoder_normalize_before = False
    ns.decoder_normalize_before = False
    return TransformerConfig.from_namespace(ns)


def _init_embeddings(module, embed_tokens: nn.Embedding, max_positions: int, n_langs: int, dropout: float):
    """Token + position + language embeddings, layer norm, dropout (XLM order); names of docs/design.md."""
    dim = embed_tokens.embedding_dim
    module.embed_tokens = embed_tokens
    module.embed_positions = nn.Embedding(max_positions, dim)
    module.embed_langs = nn.Embedding(n_langs, dim)
    module.layernorm_embedding = LayerNorm(dim)
    module.dropout_module = FairseqDropout(dropout, module_name=module.__class__.__name__)
    nn.init.normal_(module.embed_positions.weight, mean=0, std=dim ** -0.5)
    nn.init.normal_(module.embed_langs.weight, mean=0, std=dim ** -0.5)


def _embed(module, tokens: Tensor, positions: Tensor, langs: Tensor | None) -> Tensor:
    if langs is None:
        raise UserError("unmt_transformer needs src_langs/tgt_langs in the batch (use --task unmt_xdomain)")
    x = module.embed_tokens(tokens) + module.embed_positions(positions) + module.embed_langs(langs)[:, None, :]
    return module.dropout_module(module.layernorm_embedding(x))


def _init_side(module, args, embed_tokens, n_langs, layer_cls, n_layers: int) -> None:
    """What the encoder and the decoder share: padding index, embeddings (``_init_embeddings``)
    and ``n_layers`` post-norm layers of ``layer_cls``."""
    module.padding_idx = module.dictionary.pad()
    _init_embeddings(module, embed_tokens, args.max_positions, n_langs, args.dropout)
    cfg = _layer_cfg(args)
    module.layers = nn.ModuleList([layer_cls(cfg) for _ in range(n_layers)])


class UnmtEncoder(FairseqEncoder):
    def __init__(self, args, dictionary, embed_tokens, n_langs):
        super().__init__(dictionary)
        self.max_source_positions = args.max_positions
        _init_side(self, args, embed_tokens, n_langs, TransformerEncoderLayerBase, args.encoder_layers)

    def forward(self, src_tokens, src_lengths=None, src_langs=None, tgt_langs=None, **unused):
        pad_mask = src_tokens.eq(self.padding_idx)
        x = _embed(self, src_tokens, _positions(src_tokens, self.padding_idx), src_langs)
        x = x * (1 - pad_mask.unsqueeze(-1).type_as(x))
        x = x.transpose(0, 1)
        mask = pad_mask if pad_mask.any() else None
        for layer in self.layers:
            x = layer(x, encoder_padding_mask=mask)
        return {
            "encoder_out": [x],  # T x B x C
            "encoder_padding_mask": [pad_mask],
            "tgt_langs": [tgt_langs if tgt_langs is not None else src_langs],
            "src_langs": [src_langs],
        }

    @torch.jit.export
    def reorder_encoder_out(self, encoder_out: dict[str, list[Tensor]], new_order):
        out = {}
        for key, values in encoder_out.items():
            dim = 1 if key == "encoder_out" else 0
            out[key] = [v.index_select(dim, new_order) for v in values]
        return out

    def max_positions(self):
        return self.max_source_positions


class UnmtDecoder(FairseqIncrementalDecoder):
    def __init__(self, args, dictionary, embed_tokens, n_langs):
        super().__init__(dictionary)
        self.max_target_positions = args.max_positions
        _init_side(self, args, embed_tokens, n_langs, TransformerDecoderLayerBase, args.decoder_layers)
        self.output_bias = nn.Parameter(torch.zeros(len(dictionary)))
        self._future_mask = torch.empty(0)

    def forward(
        self,
        prev_output_tokens,
        encoder_out: dict[str, list[Tensor]] | None = None,
        incremental_state: dict[str, dict[str, Tensor | None]] | None = None,
        features_only: bool = False,
        **unused,
    ):
        positions = _positions(prev_output_tokens, self.padding_idx)
        tokens = prev_output_tokens
        if incremental_state is not None:
            tokens, positions = tokens[:, -1:], positions[:, -1:]
        x = _embed(self, tokens, positions, encoder_out["tgt_langs"][0]).transpose(0, 1)
        self_mask, self_pad = None, None
        if incremental_state is None:
            self_mask = self.buffered_future_mask(x)
            pad = tokens.eq(self.padding_idx)
            self_pad = pad if pad.any() else None
        enc = encoder_out["encoder_out"][0]
        enc_pad = encoder_out["encoder_padding_mask"][0]
        enc_pad = enc_pad if enc_pad.any() else None
        for layer in self.layers:
            x, _, _ = layer(
                x, enc, enc_pad, incremental_state,
                self_attn_mask=self_mask, self_attn_padding_mask=self_pad,
            )
        x = x.transpose(0, 1)
        if not features_only:
            x = F.linear(x, self.embed_tokens.weight, self.output_bias)
        return x, {"attn": [None], "inner_states": None}

    def buffered_future_mask(self, tensor):
        dim = tensor.size(0)
        if self._future_mask.size(0) < dim or self._future_mask.device != tensor.device:
            self._future_mask = torch.triu(utils.fill_with_neg_inf(torch.zeros([dim, dim])), 1)
        return self._future_mask[:dim, :dim].to(tensor)

    def max_positions(self):
        return self.max_target_positions


@register_model("unmt_transformer")
class UnmtTransformerModel(FairseqEncoderDecoderModel):
    """Shared-vocabulary encoder-decoder with XLM-style language embeddings."""

    @staticmethod
    def add_args(parser):
        parser.add_argument("--encoder-embed-dim", type=int, help="model dimension (encoder and decoder)")
        parser.add_argument("--encoder-ffn-embed-dim", type=int, help="feed-forward dimension")
        parser.add_argument("--encoder-attention-heads", type=int)
        parser.add_argument("--encoder-layers", type=int)
        parser.add_argument("--decoder-layers", type=int)
        parser.add_argument("--activation-fn", choices=utils.get_available_activation_fns())
        parser.add_argument("--dropout", type=float)
        parser.add_argument("--attention-dropout", type=float)
        parser.add_argument("--activation-dropout", type=float)
        parser.add_argument("--max-positions", type=int,
                            help="learned positions (source and target); default: the arch's "
                            "(512, tiny 256), with --init-from-mlm the MLM checkpoint's")
        parser.add_argument(
            "--init-from-mlm", type=str, metavar="PATH",
            help="initialise encoder and decoder from an xlm_mlm checkpoint (skipped when a trained "
            "UNMT checkpoint is reloaded); its sizes, dictionary, depth and languages must be the "
            "model's",
        )
        parser.add_argument(
            "--init-from-mlm-partial", type=str, metavar="WHAT",
            help="with --init-from-mlm, allow a partial load of what is named (comma-separated): "
            "'layers' loads the layers the MLM and the model have in common (the others stay "
            "random or unused), 'langs' starts the languages the MLM has no embedding for at "
            "random; each is logged as a warning naming them",
        )

    @classmethod
    def build_model(cls, args, task):
        """The model, randomly initialised; the task ``unmt_xdomain`` (the registered one, looked
        up by name) gives its dictionary and languages, and with ``--init-from-mlm`` its
        ``--max-positions`` and then its weights (``mlm_checkpoint``)."""
        from fairseq.tasks import TASK_REGISTRY

        needed = TASK_REGISTRY.get("unmt_xdomain")
        if needed is None or not isinstance(task, needed):
            used = next((name for name, cls_ in TASK_REGISTRY.items() if type(task) is cls_),
                        type(task).__name__)
            raise UserError(f"the {getattr(args, 'arch', 'unmt_transformer')} model needs --task "
                            f"unmt_xdomain (this command uses --task {used})")
        unmt_transformer(args)
        if args.max_positions is None:  # the task sets it from the MLM before building
            raise UserError("unmt_transformer: --max-positions is not set (with --init-from-mlm "
                            "the task unmt_xdomain takes the MLM checkpoint's)")
        dictionary = task.source_dictionary
        dim = args.encoder_embed_dim
        embed_tokens = nn.Embedding(len(dictionary), dim, padding_idx=dictionary.pad())
        nn.init.normal_(embed_tokens.weight, mean=0, std=dim ** -0.5)
        nn.init.constant_(embed_tokens.weight[dictionary.pad()], 0)
        n_langs = len(task.langs)
        encoder = UnmtEncoder(args, dictionary, embed_tokens, n_langs)
        decoder = UnmtDecoder(args, dictionary, embed_tokens, n_langs)
        model = cls(encoder, decoder)
        model.langs = list(task.langs)
        return model

    def forward(self, src_tokens, src_lengths, prev_output_tokens, src_langs=None, tgt_langs=None,
                **kwargs):
        encoder_out = self.encoder(src_tokens, src_lengths, src_langs=src_langs, tgt_langs=tgt_langs)
        return self.decoder(prev_output_tokens, encoder_out=encoder_out, **kwargs)

    @torch.no_grad()
    def greedy_translate(self, src_tokens, src_langs, tgt_langs, max_len_a=1.3, max_len_b=5, banned=()):
        """Greedy decoding from ``eos`` with incremental states; returns [B, T] right-padded
        tokens, each row ending with ``eos``. Length limit per sentence: a * len + b.
        ``src_tokens`` [B, S] right-padded; ``src_langs``, ``tgt_langs`` [B] language ids.

        A sentence leaves the batch once it has its ``eos`` (its encoder output and cached
        attention states are dropped, as fairseq's ``SequenceGenerator`` drops finished
        hypotheses): each step costs what the unfinished sentences cost, so a batch of mixed
        lengths is not decoded to its longest limit row by row."""
        dictionary = self.decoder.dictionary
        pad, eos = dictionary.pad(), dictionary.eos()
        enc = self.encoder(src_tokens, src_langs=src_langs, tgt_langs=tgt_langs)
        bsz = src_tokens.size(0)
        src_len = src_tokens.ne(pad).sum(1)
        max_lens = (src_len.float() * max_len_a + max_len_b).long().clamp(
            min=1, max=self.decoder.max_positions() - 1
        )
        out = src_tokens.new_full((bsz, int(max_lens.max())), pad)
        rows = torch.arange(bsz, device=src_tokens.device)  # the out row of each live sentence
        tokens = src_tokens.new_full((bsz, 1), eos)
        state: dict[str, dict[str, Tensor | None]] = {}
        banned = torch.tensor(sorted({pad, dictionary.bos(), *banned}), device=src_tokens.device)
        for step in range(out.size(1)):  # the last step ends every sentence (its length limit)
            logits, _ = self.decoder(tokens, enc, incremental_state=state)
            logits = logits[:, -1, :]
            logits.index_fill_(1, banned, float("-inf"))
            nxt = logits.argmax(-1)
            nxt = torch.where(max_lens <= step + 1, torch.full_like(nxt, eos), nxt)
            out[rows, step] = nxt.to(out.dtype)
            done = nxt.eq(eos)
            if bool(done.all()):
                break
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            if bool(done.any()):
                keep = (~done).nonzero().squeeze(1)
                rows, tokens, max_lens = rows[keep], tokens[keep], max_lens[keep]
                enc = self.encoder.reorder_encoder_out(enc, keep)
                self.decoder.reorder_incremental_state_scripting(state, keep)
        return out[:, :step + 1]


@register_model_architecture("unmt_transformer", "unmt_transformer")
def unmt_transformer(args):
    """XLM/paper size: 6 + 6 layers, 1024-d, 8 heads, 4096 FFN, GELU, dropout 0.1."""
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", None) or 1024
    args.encoder_ffn_embed_dim = getattr(args, "encoder_ffn_embed_dim", None) or 4 * args.encoder_embed_dim
    args.encoder_attention_heads = getattr(args, "encoder_attention_heads", None) or 8
    args.encoder_layers = getattr(args, "encoder_layers", None) or 6
    args.decoder_layers = getattr(args, "decoder_layers", None) or 6
    args.activation_fn = getattr(args, "activation_fn", None) or "gelu"
    for key, default in (("dropout", 0.1), ("attention_dropout", 0.1), ("activation_dropout", 0.0)):
        if getattr(args, key, None) is None:
            setattr(args, key, default)
    args.init_from_mlm = getattr(args, "init_from_mlm", None)
    args.init_from_mlm_partial = getattr(args, "init_from_mlm_partial", None)
    _default_positions(args, 512)


@register_model_architecture("unmt_transformer", "unmt_transformer_tiny")
def unmt_transformer_tiny(args):
    """CPU tests: 2 + 2 layers, 64-d, 4 heads, 128 FFN (the sizes of xlm_encoder_tiny)."""
    args.encoder_embed_dim = getattr(args, "encoder_embed_dim", None) or 64
    args.encoder_ffn_embed_dim = getattr(args, "encoder_ffn_embed_dim", None) or 128
    args.encoder_attention_heads = getattr(args, "encoder_attention_heads", None) or 4
    args.encoder_layers = getattr(args, "encoder_layers", None) or 2
    args.decoder_layers = getattr(args, "decoder_layers", None) or 2
    _default_positions(args, 256)
    unmt_transformer(args)


def _default_positions(args, default: int) -> None:
    """``--max-positions`` default of an arch; left unset with ``--init-from-mlm``, where the
    MLM checkpoint gives it (``mlm_checkpoint.MLMCheckpoint.set_max_positions``)."""
    if getattr(args, "max_positions", None) is None and not getattr(args, "init_from_mlm", None):
        args.max_positions = default
    elif not hasattr(args, "max_positions"):
        args.max_positions = None

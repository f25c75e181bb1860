"""An ``xlm_mlm`` checkpoint as the start of a UNMT model (``--init-from-mlm``): read once, checked, copied.

``MLMCheckpoint.read(path)`` reads the file once (``checkpoint_file.read_checkpoint``) and
describes what it holds: width, depth, FFN size, vocabulary and positions from the tensors' shapes
(the names of docs/design.md, "xlm_encoder parameter names"), attention heads and activation from
``cfg.model`` when the checkpoint records them, the languages of its ``embed_langs`` rows from
``cfg.task.langs``. The task ``unmt_xdomain`` then

1. ``set_max_positions(args)``: ``--max-positions`` defaults to the MLM's (more is an error);
2. builds the model, and before any training step
3. ``init_unmt_from_mlm(model, mlm, args, langs, partial)``: checks the MLM against everything it
   initialises (``check_fits``: width, FFN size, heads, activation, dictionary size, depth,
   languages) and copies it: the encoder as named, decoder layer i from encoder layer i
   (self-attention, its layer norm, FFN), language rows by name, ``lm_head.bias`` as the output
   bias (XLM, Lample & Conneau 2019, initialises both sides of its UNMT model from its MLM the
   same way).

A mismatch is one ``UserError`` naming both sides. Only two may be allowed, by name, with
``--init-from-mlm-partial layers,langs``: ``layers`` loads the layers the two depths have in
common (the others stay random, or are not used; a warning names them), ``langs`` starts the
language embeddings the MLM has no row for at random (a warning names them). Sizes of a tensor
can never be partial.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from .checkpoint_file import read_checkpoint
from .common.errors import UserError

logger = logging.getLogger(__name__)

PARTIAL = ("layers", "langs")  # what --init-from-mlm-partial may name
# the parts of an MLM encoder layer that initialise the decoder layer of the same index
DECODER_PARTS = ("self_attn.", "self_attn_layer_norm.", "fc1.", "fc2.", "final_layer_norm.")


def _cfg_get(cfg, key):
    """``cfg[key]`` of a checkpoint's config (dict, DictConfig or Namespace), None if absent."""
    if cfg is None:
        return None
    if hasattr(cfg, "get"):
        return cfg.get(key)
    return getattr(cfg, key, None)


def _split_langs(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [x for x in value.split(",") if x]
    return list(value)


def _layers(n: int) -> str:
    return f"{n} layer" if n == 1 else f"{n} layers"


def parse_partial(value: str | None) -> frozenset[str]:
    """``--init-from-mlm-partial`` (comma-separated names of ``PARTIAL``) as a set; an unknown
    name is a UserError."""
    names = frozenset(x.strip() for x in (value or "").split(",") if x.strip())
    unknown = sorted(names - set(PARTIAL))
    if unknown:
        raise UserError(f"--init-from-mlm-partial: {','.join(unknown)} is not one of "
                        f"{','.join(PARTIAL)}")
    return names


@dataclass(frozen=True)
class MLMCheckpoint:
    """A read ``xlm_mlm`` checkpoint: its tensors (``state``, the names of docs/design.md) and
    sizes. ``heads``/``activation_fn`` are None when its config does not record them."""

    path: str
    state: dict
    embed_dim: int
    ffn_embed_dim: int
    layers: int
    vocab: int
    positions: int
    heads: int | None
    activation_fn: str | None
    langs: tuple[str, ...]

    @classmethod
    def read(cls, path: str) -> MLMCheckpoint:
        """Read ``path`` once; a file that is not an ``xlm_encoder`` checkpoint is a UserError."""
        ckpt = read_checkpoint(path, "--init-from-mlm checkpoint")
        state = ckpt["model"]
        for key in ("encoder.embed_tokens.weight", "encoder.embed_positions.weight",
                    "encoder.layers.0.fc1.weight"):
            if key not in state:
                raise UserError(f"{path}: no {key}: not an xlm_encoder checkpoint")
        model_cfg = _cfg_get(ckpt.get("cfg"), "model")
        layers = {int(k.split(".")[2]) for k in state if k.startswith("encoder.layers.")}
        vocab, dim = state["encoder.embed_tokens.weight"].shape
        recorded_positions = _cfg_get(model_cfg, "max_positions")
        heads = _cfg_get(model_cfg, "encoder_attention_heads")
        return cls(
            path=path, state=state, embed_dim=int(dim),
            ffn_embed_dim=int(state["encoder.layers.0.fc1.weight"].shape[0]),
            layers=max(layers) + 1, vocab=int(vocab),
            positions=int(recorded_positions if recorded_positions is not None
                          else state["encoder.embed_positions.weight"].shape[0]),
            heads=None if heads is None else int(heads),
            activation_fn=_cfg_get(model_cfg, "activation_fn"),
            langs=tuple(_split_langs(_cfg_get(_cfg_get(ckpt.get("cfg"), "task"), "langs"))),
        )

    def set_max_positions(self, args) -> int:
        """Set ``args.max_positions`` (the UNMT model's config, Namespace or DictConfig) to the
        MLM's when the user did not; returns the positions. A bigger ``--max-positions`` than the
        MLM's is a UserError (the MLM has no rows for the extra positions)."""
        wanted = getattr(args, "max_positions", None)
        if wanted is None:
            from omegaconf import OmegaConf, open_dict

            with open_dict(args) if OmegaConf.is_config(args) else contextlib.nullcontext():
                args.max_positions = self.positions
            logger.info(f"--max-positions {self.positions}: from the --init-from-mlm checkpoint "
                        f"{self.path}")
            return self.positions
        if int(wanted) > self.positions:
            raise UserError(f"--max-positions {wanted} exceeds the {self.positions} positions of "
                            f"the --init-from-mlm checkpoint {self.path} (leave --max-positions "
                            "out to take the MLM's)")
        return int(wanted)


def check_fits(mlm: MLMCheckpoint, args, vocab: int, langs: list[str],
               partial: frozenset[str] = frozenset()) -> None:
    """Raise one UserError naming every mismatch between ``mlm`` and the UNMT model it initialises.

    ``args``: the model's config after its arch defaults (``encoder_embed_dim``,
    ``encoder_ffn_embed_dim``, ``encoder_attention_heads``, ``activation_fn``,
    ``encoder_layers``, ``decoder_layers``); ``vocab``: the task's dictionary size; ``langs``:
    the model's languages in id order; ``partial``: of ``PARTIAL``, what may differ.
    """
    wrong = []

    def differ(what, ours, option):
        theirs = getattr(mlm, what[0])
        if theirs is not None and ours is not None and theirs != ours:
            wrong.append(f"{what[1]} {theirs} in the MLM, {ours} in the UNMT model ({option})")

    differ(("embed_dim", "width"), int(args.encoder_embed_dim), "--encoder-embed-dim")
    differ(("ffn_embed_dim", "FFN size"), int(args.encoder_ffn_embed_dim), "--encoder-ffn-embed-dim")
    differ(("heads", "attention heads"), int(args.encoder_attention_heads),
           "--encoder-attention-heads")
    differ(("activation_fn", "activation"), str(args.activation_fn), "--activation-fn")
    differ(("vocab", "dictionary size"), vocab, "binarize both with one dict.txt")
    enc, dec = int(args.encoder_layers), int(args.decoder_layers)
    if "layers" not in partial and not mlm.layers == enc == dec:
        wrong.append(f"{_layers(mlm.layers)} in the MLM, {enc} encoder + {dec} decoder layers in the "
                     "UNMT model (--encoder-layers/--decoder-layers, or --init-from-mlm-partial "
                     "layers to load the layers in common)")
    unseen = [lang for lang in langs if lang not in mlm.langs]
    if unseen and "langs" not in partial:
        have = ",".join(mlm.langs) if mlm.langs else "none recorded (cfg.task.langs)"
        wrong.append(f"languages {have} in the MLM, no row for {','.join(unseen)} of --langs "
                     f"{','.join(langs)} (or --init-from-mlm-partial langs to start "
                     f"{'it' if len(unseen) == 1 else 'them'} random)")
    if wrong:
        raise UserError(f"{mlm.path}: the --init-from-mlm checkpoint does not fit the UNMT model: "
                        + "; ".join(wrong))


def init_unmt_from_mlm(model, mlm: MLMCheckpoint, args, langs: list[str],
                       partial: frozenset[str] = frozenset()) -> dict:
    """Check ``mlm`` against the UNMT ``model`` (``check_fits``), then copy it in place.

    Encoder: embeddings + layers as named; decoder layer i: self_attn, self_attn_layer_norm, fc1,
    fc2, final_layer_norm from encoder layer i (its encoder_attn stays new); position rows: the
    first ``--max-positions``; language rows by name. Returns a report: ``loaded`` of
    ``model_tensors``, ``mlm_langs``, ``langs_without_mlm_row``, ``layers_left_random`` and
    ``mlm_layers_unused`` (the last three empty unless ``partial`` allowed them; each non-empty
    one is logged as a warning).
    """
    own = model.state_dict()
    check_fits(mlm, args, own["encoder.embed_tokens.weight"].shape[0], langs, partial)
    state, new = mlm.state, {}

    def put(dst, tensor):
        if own[dst].shape != tensor.shape:  # check_fits covers the sizes; this is the last guard
            raise UserError(f"{mlm.path}: {dst} has shape {tuple(tensor.shape)} in the MLM but "
                            f"{tuple(own[dst].shape)} in the UNMT model")
        new[dst] = tensor

    without_row = [lang for lang in langs if lang not in mlm.langs]
    for side in ("encoder", "decoder"):
        for name in ("embed_tokens.weight", "layernorm_embedding.weight", "layernorm_embedding.bias"):
            if f"encoder.{name}" in state:
                put(f"{side}.{name}", state[f"encoder.{name}"])
        rows = own[f"{side}.embed_positions.weight"].shape[0]
        put(f"{side}.embed_positions.weight", state["encoder.embed_positions.weight"][:rows])
        if "encoder.embed_langs.weight" in state:
            lang_rows = own[f"{side}.embed_langs.weight"].clone()
            for i, lang in enumerate(langs):
                if lang not in without_row:
                    lang_rows[i] = state["encoder.embed_langs.weight"][mlm.langs.index(lang)]
            put(f"{side}.embed_langs.weight", lang_rows)
    for key, value in state.items():
        if key.startswith("encoder.layers."):
            idx, sub = key[len("encoder.layers."):].split(".", 1)
            if key in own:
                put(key, value)
            if sub.startswith(DECODER_PARTS) and f"decoder.layers.{idx}.{sub}" in own:
                put(f"decoder.layers.{idx}.{sub}", value)
    if "encoder.lm_head.bias" in state:
        put("decoder.output_bias", state["encoder.lm_head.bias"])
    model.load_state_dict({**own, **new})

    enc, dec = int(args.encoder_layers), int(args.decoder_layers)
    report = {
        "loaded": len(new), "model_tensors": len(own), "mlm_langs": list(mlm.langs),
        "langs_without_mlm_row": without_row,
        "layers_left_random": [f"encoder.layers.{i}" for i in range(mlm.layers, enc)]
        + [f"decoder.layers.{i}" for i in range(mlm.layers, dec)],
        "mlm_layers_unused": [f"encoder.layers.{i}" for i in range(max(enc, dec), mlm.layers)],
    }
    logger.info(f"initialised from {mlm.path}: {report}")
    if without_row:
        logger.warning(f"{mlm.path}: no MLM language embedding for {','.join(without_row)} "
                       "(--init-from-mlm-partial langs): random init")
    if report["layers_left_random"]:
        logger.warning(f"{mlm.path}: the MLM has {_layers(mlm.layers)} (--init-from-mlm-partial "
                       f"layers): {', '.join(report['layers_left_random'])} left random")
    if report["mlm_layers_unused"]:
        logger.warning(f"{mlm.path}: the UNMT model has {enc} encoder + {dec} decoder layers "
                       f"(--init-from-mlm-partial layers): MLM {', '.join(report['mlm_layers_unused'])} "
                       "not used")
    return report

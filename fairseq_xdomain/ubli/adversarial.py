"""Adversarial training of a linear map (Conneau et al. 2018), batched over a seed dimension.

S independent runs (one per seed) are trained together: the maps are one tensor ``W [S, d, d]``
(``mapped = x @ W[s]``), the S discriminators are batched weights, and every matrix product is a
``torch.bmm``/``baddbmm`` over the seed dimension, so the hardware does wide matrix work instead of
S narrow ones. Each seed owns a ``torch.Generator`` for its initialisation, its word sampling and
its dropout masks, so seed s in a batch of 4 draws exactly the random numbers of seed s alone
(S = 1 is a plain single run). Its W is then the same up to float rounding, not necessarily bit
for bit: torch's CPU ``bmm`` over a batch of one can take another kernel and round differently
(the sigmoid and the output layer below are written to agree, the hidden layers' products are
not). Tests: ``tests/test_ubli.py`` checks a short tiny run (4 iterations, d = 16) batched vs alone
bit for bit; ``tests/test_ubli_grid.py`` checks the grid against separate runs trained next to a
companion seed (S = 2, ``grid.run_configuration(companion_seed=...)``), bit for bit.

The discriminator is MUSE's: input dropout 0.1 -> Linear(d, 2048) -> LeakyReLU(0.2) ->
Linear(2048, 2048) -> LeakyReLU(0.2) -> Linear(2048, 1) -> sigmoid, BCE with label smoothing 0.1,
trained by SGD on the ``dis_most_frequent`` most frequent words. Forward and backward passes are
written out by hand (no autograd): the discriminator step computes only the gradients it needs
(no input gradient for the first layer) and fuses each weight gradient into its SGD update
(``W.baddbmm_(x^T, g, alpha=-lr)``, no gradient tensor); the mapping step forwards only the source
half of the batch (the target half does not depend on W) and computes no discriminator weight
gradients. After each mapping step W <- (1 + b) W - b W W^T W keeps W close to orthogonal.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "auto")


def _opt(default, help: str, **meta):
    """A config field: its default and, in ``metadata``, its flag's help (and ``flag``,
    ``choices``, ``aliases``: MUSE's name of the same setting; ``common/dataclass_args.py``)."""
    return field(default=default, metadata={"help": help, **meta})


@dataclass
class AdversarialConfig:
    """MUSE's defaults. ``epoch_size`` counts samples: iterations per epoch = epoch_size // batch_size."""

    # metadata: the flags of xdomain-ubli align/grid and the help of the muse_ubli/muse_mapping
    # fairseq options (common/dataclass_args.py); the defaults are declared here only
    dis_layers: int = _opt(2, "discriminator hidden layers", aliases=("--dis_layers",))
    dis_hid_dim: int = _opt(2048, "discriminator hidden size", aliases=("--dis_hid_dim",))
    dis_input_dropout: float = _opt(0.1, "discriminator input dropout", aliases=("--dis_input_dropout",))
    dis_steps: int = _opt(5, "discriminator steps per mapping step", aliases=("--dis_steps",))
    dis_lambda: float = _opt(1.0, "weight of the adversarial loss in the mapping step", aliases=("--dis_lambda",))
    dis_most_frequent: int = _opt(75000, "discriminator vocabulary: the most frequent words fed "
                                         "to it (0: all)", aliases=("--dis_most_frequent",))
    dis_smooth: float = _opt(0.1, "label smoothing", aliases=("--dis_smooth",))
    dis_lr: float = _opt(0.1, "discriminator SGD learning rate")
    map_lr: float = _opt(0.1, "mapping SGD learning rate")
    map_beta: float = _opt(0.001, "orthogonality update beta", aliases=("--map_beta",))
    batch_size: int = _opt(32, "words per side per step", aliases=("--batch_size",))
    lr_decay: float = _opt(0.98, "learning-rate decay after each epoch", aliases=("--lr_decay",))
    lr_shrink: float = _opt(0.5, "learning-rate shrink when the criterion drops (from the "
                                 "second drop on)", aliases=("--lr_shrink",))
    min_lr: float = _opt(1e-6, "stop when the learning rate is below", aliases=("--min_lr",))
    epoch_size: int = _opt(1_000_000, "samples per epoch", aliases=("--epoch_size",))
    n_epochs: int = _opt(5, "adversarial epochs", flag="epochs", aliases=("--n_epochs",))
    precision: str = _opt("fp32", "matrix products in fp32, or bf16 with fp32 master weights "
                          "(auto: bf16 only where it is fast)", choices=PRECISIONS)

    def to_dict(self) -> dict:
        return asdict(self)


def bf16_is_fast(size: int = 1024) -> bool:
    """True when a bf16 matrix product beats fp32 by 2x here (AVX512-BF16/AMX CPUs, GPUs)."""
    if torch.cuda.is_available():
        return True
    a = torch.randn(64, size)
    b = torch.randn(size, size)
    times = {}
    for dt in (torch.float32, torch.bfloat16):
        x, y = a.to(dt), b.to(dt)
        x @ y
        t = time.perf_counter()
        for _ in range(3):
            x @ y
        times[dt] = time.perf_counter() - t
        if dt == torch.bfloat16 and times[dt] > 4 * times[torch.float32]:
            break
    return times[torch.bfloat16] * 2 <= times[torch.float32]


def resolve_precision(precision: str) -> str:
    """``"fp32"`` or ``"bf16"`` for one of ``PRECISIONS`` (``auto``: bf16 where it is fast).

    Raises ``ValueError`` for another value."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        precision = "bf16" if bf16_is_fast() else "fp32"
        logger.info("precision auto: using %s matrix products", precision)
    return precision


def _sigmoid(x):
    """Sigmoid whose result does not depend on the tensor's size: CPU kernels use SIMD and scalar
    code paths with different rounding, so a seed's slice in a batch of S could differ in the last
    bit from the same seed alone. Computed in float64 and rounded to float32, the paths agree."""
    return torch.sigmoid(x.double()).float()


def init_discriminator(d: int, hid_dim: int, n_layers: int, gens: Sequence[torch.Generator],
                       ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-seed nn.Linear-style uniform init; returns [(weight [S, in, out], bias [S, 1, out])]."""
    dims = [d] + [hid_dim] * n_layers + [1]
    layers = []
    for fan_in, fan_out in zip(dims[:-1], dims[1:]):
        bound = 1.0 / math.sqrt(fan_in)  # nn.Linear's default initialisation
        w = torch.empty(len(gens), fan_in, fan_out)
        b = torch.empty(len(gens), 1, fan_out)
        for s, g in enumerate(gens):
            w[s].uniform_(-bound, bound, generator=g)
            b[s].uniform_(-bound, bound, generator=g)
        layers.append((w, b))
    return layers


def discriminator_logits(layers: Sequence[tuple[torch.Tensor, torch.Tensor]],
                         x: torch.Tensor) -> torch.Tensor:
    """Differentiable discriminator forward: ``x [S, B, d]`` -> logits ``[S, B]``."""
    h = x
    for i, (w, b) in enumerate(layers):
        h = torch.baddbmm(b, h, w)
        if i < len(layers) - 1:
            h = torch.nn.functional.leaky_relu(h, 0.2)
    return h.squeeze(2)


def dis_targets(batch_size: int, smooth: float,
                device: torch.device | str | None = None) -> torch.Tensor:
    """Smoothed labels ``[2 * batch_size]`` of a discriminator batch: source rows 1 - smooth,
    target rows smooth."""
    return torch.cat([torch.full((batch_size,), 1.0 - smooth),
                      torch.full((batch_size,), smooth)]).to(device)


def orthogonalize(W: torch.Tensor, beta: float) -> torch.Tensor:
    """W <- (1 + beta) W - beta W W^T W, for ``W [d, d]`` or ``[S, d, d]`` (returns a new tensor)."""
    if beta <= 0:
        return W
    return W * (1 + beta) - beta * (W @ W.transpose(-2, -1) @ W)


def sample_ids(gens: Sequence[torch.Generator], n_words: int, batch_size: int) -> torch.Tensor:
    """``[S, batch_size]`` word ids in ``[0, n_words)``, one row per seed generator."""
    return torch.stack([torch.randint(0, n_words, (batch_size,), generator=g) for g in gens])


def dropout_masks(gens: Sequence[torch.Generator], rows: int, dim: int,
                  keep: float) -> torch.Tensor:
    """Input-dropout masks (scaled by 1/keep), ``[S, rows, dim]``, one per seed generator."""
    m = torch.stack([torch.rand(rows, dim, generator=g) for g in gens])
    return (m < keep).float() / keep


class BatchedAdversarial:
    """S seeds of MUSE adversarial training as one batched model.

    ``src``/``tgt``: float32 ``[n, d]`` embeddings in frequency order (rows already on ``device``).
    Raises ``ValueError`` when their dimensions differ or for an unknown ``cfg.precision``.
    """

    def __init__(self, src: torch.Tensor, tgt: torch.Tensor, seeds, cfg: AdversarialConfig,
                 device=None):
        if src.shape[1] != tgt.shape[1]:
            raise ValueError("source and target dimensions differ")
        self.cfg = cfg
        self.seeds = [int(s) for s in seeds]
        self.S = len(self.seeds)
        self.device = torch.device(device) if device is not None else src.device
        self.src = src.to(self.device, torch.float32).contiguous()
        self.tgt = tgt.to(self.device, torch.float32).contiguous()
        self.d = src.shape[1]
        self.n_src = min(cfg.dis_most_frequent, src.shape[0]) if cfg.dis_most_frequent > 0 else src.shape[0]
        self.n_tgt = min(cfg.dis_most_frequent, tgt.shape[0]) if cfg.dis_most_frequent > 0 else tgt.shape[0]
        self.precision = resolve_precision(cfg.precision)
        self.gens = [torch.Generator().manual_seed(s) for s in self.seeds]
        S, d, h = self.S, self.d, cfg.dis_hid_dim
        self.W = torch.eye(d, device=self.device).repeat(S, 1, 1)
        # Discriminator layers as (weight [S, in, out], bias [S, 1, out]), y = x @ weight + bias.
        self.layers = [(w.to(self.device), b.to(self.device))
                       for w, b in init_discriminator(d, h, cfg.dis_layers, self.gens)]
        self.map_lr = torch.full((S,), cfg.map_lr, dtype=torch.float64)
        bs = cfg.batch_size
        self.y_dis = dis_targets(bs, cfg.dis_smooth, self.device)
        self.keep = 1.0 - cfg.dis_input_dropout
        self.last_dis_loss = torch.zeros(S)

    # -- matrix products, fp32 or bf16 with fp32 accumulation/master weights -------------------
    def _bmm(self, a, b):
        if self.precision == "bf16":
            return torch.bmm(a.bfloat16(), b.bfloat16()).float()
        return torch.bmm(a, b)

    def _update(self, w, a, g, lr):
        """w -= lr * a @ g (the fused SGD step of a weight gradient a^T-shaped product)."""
        if self.precision == "bf16":
            w.sub_(torch.bmm(a.bfloat16(), g.bfloat16()).float(), alpha=lr)
        else:
            w.baddbmm_(a, g, alpha=-lr)

    # -- random draws, one generator per seed ---------------------------------------------------
    def _ids(self, n_words):
        return sample_ids(self.gens, n_words, self.cfg.batch_size)

    def _mask(self, rows):
        if self.cfg.dis_input_dropout <= 0:
            return None
        return dropout_masks(self.gens, rows, self.d, self.keep).to(self.device)

    # -- discriminator ---------------------------------------------------------------------------
    def _forward(self, x):
        """Return the logits [S, B] and the cache (inputs, pre-activations) of every layer."""
        cache = []
        h = x
        last = len(self.layers) - 1
        for i, (w, b) in enumerate(self.layers):
            if w.shape[2] == 1:  # output layer as a reduction: bitwise the same for any S
                z = (h * w.transpose(1, 2)).sum(dim=2, keepdim=True).add_(b)
            else:
                z = self._bmm(h, w).add_(b)
            cache.append((h, z))
            h = torch.nn.functional.leaky_relu(z, 0.2) if i < last else z
        return h.squeeze(2), cache

    def _backward(self, cache, g, update_lr=None, need_input_grad=False):
        """Backpropagate dLoss/dlogits ``g [S, B]``; SGD-update the weights when ``update_lr``."""
        g = g.unsqueeze(2)
        for i in range(len(self.layers) - 1, -1, -1):
            w, b = self.layers[i]
            h_in, _ = cache[i]
            g_in = None
            if i > 0 or need_input_grad:
                g_in = g * w.transpose(1, 2) if w.shape[2] == 1 else self._bmm(g, w.transpose(1, 2))
                if i > 0:
                    z_prev = cache[i - 1][1]
                    g_in = torch.where(z_prev > 0, g_in, g_in * 0.2)
            if update_lr is not None:
                b.sub_(g.sum(dim=1, keepdim=True), alpha=update_lr)
                if w.shape[2] == 1:
                    w.sub_((h_in * g).sum(dim=1, keepdim=True).transpose(1, 2), alpha=update_lr)
                else:
                    self._update(w, h_in.transpose(1, 2), g, update_lr)
            g = g_in
        return g

    def dis_step(self):
        """One discriminator SGD step on 2 x batch_size (mapped source, target) samples per seed."""
        cfg = self.cfg
        src_ids, tgt_ids = self._ids(self.n_src), self._ids(self.n_tgt)
        mask = self._mask(2 * cfg.batch_size)
        with torch.no_grad():
            xs = self._bmm(self.src[src_ids.to(self.device)], self.W)
            x = torch.cat([xs, self.tgt[tgt_ids.to(self.device)]], dim=1)
            if mask is not None:
                x = x * mask
            logits, cache = self._forward(x)
            y = self.y_dis.expand_as(logits)
            g = (_sigmoid(logits) - y) / logits.shape[1]
            self.last_dis_loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, y, reduction="none").mean(dim=1)
            self._backward(cache, g, update_lr=cfg.dis_lr)

    def map_step(self):
        """One mapping SGD step (fool the discriminator), then the orthogonality update."""
        cfg = self.cfg
        bs = cfg.batch_size
        src_ids = self._ids(self.n_src)
        mask = self._mask(bs)
        with torch.no_grad():
            xs = self.src[src_ids.to(self.device)]
            x = self._bmm(xs, self.W)
            if mask is not None:
                x = x * mask
            logits, cache = self._forward(x)
            # Flipped labels: mapped source should look like target (smooth). The loss is the mean
            # over the 2 x bs samples; the target half does not depend on W.
            g = (_sigmoid(logits) - cfg.dis_smooth) * (cfg.dis_lambda / (2 * bs))
            gx = self._backward(cache, g, need_input_grad=True)
            if mask is not None:
                gx = gx * mask
            grad_w = torch.bmm(xs.transpose(1, 2), gx)
            lr = self.map_lr.to(self.device, torch.float32).view(-1, 1, 1)
            self.W.sub_(grad_w * lr)
            self.orthogonalize()

    def orthogonalize(self):
        self.W = orthogonalize(self.W, self.cfg.map_beta)

    def iteration(self):
        for _ in range(self.cfg.dis_steps):
            self.dis_step()
        self.map_step()

    @property
    def samples_per_iteration(self) -> int:
        """As MUSE counts: 2 x batch size per iteration (per seed)."""
        return 2 * self.cfg.batch_size

    def iterations_per_epoch(self) -> int:
        return max(1, self.cfg.epoch_size // self.cfg.batch_size)

    def run_epoch(self, progress=None, n_iter=None):
        """Train one epoch; ``progress`` is a tqdm bar (updated with samples/s and dis loss)."""
        n_iter = self.iterations_per_epoch() if n_iter is None else n_iter
        start = time.perf_counter()
        for it in range(n_iter):
            self.iteration()
            if progress is not None:
                progress.update(1)
                if it % 50 == 0 or it == n_iter - 1:
                    el = time.perf_counter() - start
                    progress.set_postfix(
                        samples_s=f"{(it + 1) * self.samples_per_iteration * self.S / max(el, 1e-9):.0f}",
                        dis_loss=f"{self.last_dis_loss.mean().item():.4f}",
                    )
        return time.perf_counter() - start

    # -- state (for checkpoints and resume) ------------------------------------------------------
    def state_dict(self):
        return {
            "seeds": self.seeds, "W": self.W.cpu(), "map_lr": self.map_lr.clone(),
            "layers": [(w.cpu(), b.cpu()) for w, b in self.layers],
            "gens": [g.get_state() for g in self.gens],
        }

    def load_state_dict(self, state):
        assert list(state["seeds"]) == self.seeds
        self.W = state["W"].to(self.device)
        self.map_lr = state["map_lr"].clone()
        self.layers = [(w.to(self.device), b.to(self.device)) for w, b in state["layers"]]
        for g, st in zip(self.gens, state["gens"]):
            g.set_state(st)

"""fairseq task ``muse_ubli``: MUSE adversarial training run by fairseq-train.

    fairseq-train --user-dir "$(xdomain-user-dir)" --task muse_ubli --criterion muse_adversarial \
        --arch muse_mapping --src-emb A.vec --tgt-emb B.vec --optimizer sgd --lr 0.1 \
        --max-update N --save-dir CKPT

A thin adapter over :mod:`fairseq_xdomain.ubli`: embeddings are loaded with ``ubli.data``;
each fairseq update is one step of MUSE's cycle (``dis_steps`` discriminator updates, then one
mapping update), its word ids and dropout masks drawn with the shared samplers from a generator
seeded by (seed, update number), so a resumed run continues the same stream; after a mapping
update the task applies the orthogonality update (on the fp32 master copy under --fp16/--bf16,
see ``MuseMappingModel.orthogonalize_``) and discriminator gradients are dropped, so one fairseq
SGD optimizer at one learning rate plays MUSE's two optimizers. Differences from ``xdomain-ubli
align``: the learning-rate schedule is fairseq's (``--lr-scheduler``), and there is no
criterion-based model selection or refinement (use ``xdomain-ubli`` on the saved W for that).
"""

import logging
from dataclasses import dataclass, field

import numpy as np
import torch
from fairseq.data import FairseqDataset, iterators
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask, register_task

from ..common.dataclass_args import config_field
from ..ubli.adversarial import AdversarialConfig, dropout_masks, sample_ids
from ..ubli.data import MAX_VOCAB, MAX_VOCAB_HELP, NORMALIZATIONS, clamp_rank, load_pair

logger = logging.getLogger(__name__)


@dataclass
class MuseUbliConfig(FairseqDataclass):
    src_emb: str = field(default="", metadata={"help": "source .vec"})
    tgt_emb: str = field(default="", metadata={"help": "target .vec"})
    max_vocab: int = field(default=MAX_VOCAB, metadata={"help": MAX_VOCAB_HELP})
    normalize_embeddings: str = field(default="", metadata={
        "help": "MUSE's normalisation: " + ", ".join(repr(n) for n in NORMALIZATIONS)})
    # MUSE's settings: default and help declared once, in ubli.adversarial.AdversarialConfig
    dis_most_frequent: int = config_field(AdversarialConfig, "dis_most_frequent")
    dis_steps: int = config_field(AdversarialConfig, "dis_steps")
    dis_smooth: float = config_field(AdversarialConfig, "dis_smooth")
    dis_input_dropout: float = config_field(AdversarialConfig, "dis_input_dropout")
    muse_batch_size: int = config_field(AdversarialConfig, "batch_size")
    epoch_size: int = config_field(AdversarialConfig, "epoch_size")
    muse_seed: int = field(default=1, metadata={"help": "seed of the initialisation and sampling"})


def check_config(cfg: MuseUbliConfig) -> None:
    """Refuse flag values that would fail (or divide by zero) only once training runs."""
    from ..common.errors import UserError, check_choice, check_minimums

    check_choice("--normalize-embeddings", cfg.normalize_embeddings, NORMALIZATIONS)
    check_minimums((("--muse-batch-size", cfg.muse_batch_size, 1),
                    ("--dis-steps", cfg.dis_steps, 0),
                    ("--dis-most-frequent", cfg.dis_most_frequent, 0),
                    ("--max-vocab", cfg.max_vocab, 1)))
    if cfg.epoch_size < cfg.muse_batch_size:
        raise UserError(f"--epoch-size {cfg.epoch_size}: must be >= --muse-batch-size "
                        f"{cfg.muse_batch_size}")
    if not 0 <= cfg.dis_input_dropout < 1:
        raise UserError(f"--dis-input-dropout {cfg.dis_input_dropout}: must be in [0, 1)")
    if not 0 <= cfg.dis_smooth < 0.5:
        raise UserError(f"--dis-smooth {cfg.dis_smooth}: must be in [0, 0.5)")


class _StepDataset(FairseqDataset):
    """One item per fairseq update: its index within the epoch (the content is drawn in train_step)."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, index):
        return index

    def __len__(self):
        return self.n

    def collater(self, samples):
        return {"index": torch.tensor(samples), "ntokens": 1, "nsentences": 1}

    def num_tokens(self, index):
        return 1

    def size(self, index):
        return 1


@register_task("muse_ubli", dataclass=MuseUbliConfig)
class MuseUbliTask(FairseqTask):
    def __init__(self, cfg: MuseUbliConfig, src_wv, tgt_wv, src, tgt):
        super().__init__(cfg)
        self.src_words, self.tgt_words = src_wv.words, tgt_wv.words
        self.src_emb, self.tgt_emb = src, tgt
        self.dim = src.shape[1]
        self.n_src = clamp_rank("--dis-most-frequent", cfg.dis_most_frequent or len(src_wv),
                                len(src_wv), len(src_wv))
        self.n_tgt = clamp_rank("--dis-most-frequent", cfg.dis_most_frequent or len(tgt_wv),
                                len(tgt_wv), len(tgt_wv))
        self._phase = "dis"

    @classmethod
    def setup_task(cls, cfg: MuseUbliConfig, **kwargs):
        from ..common.errors import UserError

        if not cfg.src_emb or not cfg.tgt_emb:
            raise UserError("--task muse_ubli needs --src-emb and --tgt-emb")
        check_config(cfg)
        src_wv, tgt_wv, src, tgt = load_pair(cfg.src_emb, cfg.tgt_emb, cfg.max_vocab,
                                             cfg.normalize_embeddings)
        if torch.cuda.is_available():
            src, tgt = src.cuda(), tgt.cuda()
        return cls(cfg, src_wv, tgt_wv, src, tgt)

    def load_dataset(self, split, epoch=1, combine=False, **kwargs):
        n = max(1, self.cfg.epoch_size // self.cfg.muse_batch_size) * (self.cfg.dis_steps + 1)
        self.datasets[split] = _StepDataset(n if split == "train" else 1)

    def get_batch_iterator(self, dataset, max_tokens=None, max_sentences=None, max_positions=None,
                           ignore_invalid_inputs=False, required_batch_size_multiple=1, seed=1,
                           num_shards=1, shard_id=0, num_workers=0, epoch=1,
                           data_buffer_size=0, disable_iterator_cache=False, **kwargs):
        batches = [np.array([i]) for i in range(len(dataset))]
        return iterators.EpochBatchIterator(
            dataset=dataset, collate_fn=dataset.collater, batch_sampler=batches, seed=seed,
            num_shards=num_shards, shard_id=shard_id, num_workers=0, epoch=epoch,
        )

    def _draw(self, update_num):
        """Word ids and dropout masks of one step, from a generator seeded by (seed, update)."""
        cfg = self.cfg
        gen = torch.Generator().manual_seed(cfg.muse_seed * 1_000_003 + int(update_num))
        bs = cfg.muse_batch_size
        phase = "map" if update_num % (cfg.dis_steps + 1) == cfg.dis_steps else "dis"
        keep = 1.0 - cfg.dis_input_dropout
        dev = self.src_emb.device
        return {
            "phase": phase,
            "src_ids": sample_ids([gen], self.n_src, bs)[0].to(dev),
            "tgt_ids": sample_ids([gen], self.n_tgt, bs)[0].to(dev),
            "mask": dropout_masks([gen], 2 * bs, self.dim, keep)[0].to(dev),
        }

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        model.train()
        model.set_num_updates(update_num)
        step = self._draw(update_num)
        self._phase = step["phase"]
        loss, sample_size, logging_output = criterion(model, step)
        if ignore_grad:
            loss *= 0
        optimizer.backward(loss)
        # One optimizer, two roles: drop the gradients of the side that does not learn this step.
        frozen = model.discriminator_parameters() if self._phase == "map" else [model.mapping]
        for p in frozen:
            p.grad = None
        return loss, sample_size, logging_output

    def optimizer_step(self, optimizer, model, update_num):
        optimizer.step()
        if self._phase == "map":
            model.orthogonalize_(optimizer)

    def valid_step(self, sample, model, criterion):
        with torch.no_grad():
            W = model.mapping.float()
            dev = (W @ W.T - torch.eye(W.shape[0], device=W.device)).abs().max().item()
        return torch.tensor(dev), 1, {"loss": dev, "sample_size": 1, "ntokens": 1,
                                       "nsentences": 1, "orth_dev": dev}

    def max_positions(self):
        return None

    @property
    def source_dictionary(self):
        return None

    @property
    def target_dictionary(self):
        return None

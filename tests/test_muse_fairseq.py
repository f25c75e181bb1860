"""MUSE adversarial training through fairseq-train (task muse_ubli, criterion muse_adversarial,
arch muse_mapping), and the orthogonality update surviving fairseq's fp16 master-weight copy."""
from __future__ import annotations

import numpy as np
import torch
from conftest import USER_DIR, run

from fairseq_xdomain.compat import load_trusted_checkpoint
from fairseq_xdomain.embeddings.vecio import save_vec


def test_fairseq_train_muse_ubli(tmp_path):
    rng = np.random.default_rng(0)
    save_vec(tmp_path / "a.vec", [f"a{i}" for i in range(120)], rng.standard_normal((120, 8)))
    save_vec(tmp_path / "b.vec", [f"b{i}" for i in range(120)], rng.standard_normal((120, 8)))
    out = run([
        "fairseq-train", "--user-dir", USER_DIR, "--task", "muse_ubli",
        "--criterion", "muse_adversarial", "--arch", "muse_mapping",
        "--src-emb", tmp_path / "a.vec", "--tgt-emb", tmp_path / "b.vec",
        "--dis-hid-dim", "32", "--muse-batch-size", "8", "--epoch-size", "64",
        "--dis-most-frequent", "500", "--map-beta", "0.05",
        "--optimizer", "sgd", "--lr", "0.1", "--batch-size", "1", "--max-update", "18",
        "--save-dir", tmp_path / "ckpt", "--cpu", "--no-progress-bar", "--log-interval", "6",
        "--num-workers", "0", "--disable-validation",
    ])
    log = out.stdout + out.stderr
    assert "dis_loss" in log and "done training" in log
    ckpt = load_trusted_checkpoint(tmp_path / "ckpt" / "checkpoint_last.pt")
    W = ckpt["model"]["mapping"].float()
    assert ckpt["optimizer_history"][-1]["num_updates"] == 18
    assert not torch.allclose(W, torch.eye(8))  # 3 mapping updates happened
    assert (W @ W.T - torch.eye(8)).abs().max() < 1e-2  # and W stayed orthogonal
    # dis-most-frequent 500 > 120 words was shrunk with a warning, not a crash
    assert "--dis-most-frequent=500" in log


def test_orthogonalisation_survives_fp16_master_copy():
    """fairseq's FP16Optimizer copies fp32 master weights over the model after each step; the
    orthogonality update must be applied to the master copy or it is lost."""
    from argparse import Namespace

    from fairseq.optim.fp16_optimizer import FP16Optimizer
    from fairseq.optim.sgd import SGD

    from fairseq_xdomain.models.muse_mapping import MuseMappingConfig, MuseMappingModel

    cfg = MuseMappingConfig(dis_hid_dim=8, map_beta=0.05)
    model = MuseMappingModel(cfg, dim=4, seed=0).half()
    with torch.no_grad():
        model.mapping.copy_(torch.eye(4) * 1.2)  # far from orthogonal: the update is visible
    params = list(model.parameters())
    fp32 = FP16Optimizer.build_fp32_params(Namespace(), params, flatten=False)
    opt_cfg = Namespace(lr=[0.1], momentum=0.0, weight_decay=0.0)
    optimizer = FP16Optimizer(Namespace(
        optimizer=opt_cfg, common=Namespace(fp16_init_scale=1, fp16_scale_window=None,
                                            fp16_scale_tolerance=0.0, threshold_loss_scale=None,
                                            min_loss_scale=1e-4, bf16=False, fp16_no_flatten_grads=True,
                                            model_parallel_size=1),
        distributed_training=Namespace(distributed_world_size=1),
        optimization=Namespace(update_freq=[1])), params, SGD(opt_cfg, fp32), fp32)
    expected = 1.2 * 1.05 - 0.05 * 1.2 ** 3
    model.orthogonalize_(optimizer)
    optimizer._sync_fp32_params_to_fp16()  # what every optimizer.step() ends with
    assert abs(model.mapping[0, 0].item() - expected) < 2e-3
    # without the master copy the update is undone by the next sync
    with torch.no_grad():
        model.mapping.copy_(model.mapping.float() * 0.5)
    optimizer._sync_fp32_params_to_fp16()
    assert abs(model.mapping[0, 0].item() - expected) < 2e-3

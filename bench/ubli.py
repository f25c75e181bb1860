"""Benchmark of the UBLI engine; prints one JSON object.

- ``adversarial_samples_per_s``: our batched adversarial trainer (S = 1 seed) on random 200k x 300
  embeddings with MUSE's default hyperparameters (batch 32, 2 x 2048 discriminator, 5
  discriminator steps + 1 mapping step per iteration); samples counted as MUSE counts them
  (2 x batch size per iteration).
- ``muse_reference_samples_per_s``: NOT MUSE's code (CC-BY-NC, not copied): a plain,
  straightforward fp32 PyTorch loop written for this benchmark with MUSE's computational
  pattern: nn.Embedding lookups, nn.Linear mapping, nn.Sequential discriminator, 5 discriminator
  steps each with its own forward/backward/optimizer.step, 1 mapping step through autograd,
  orthogonalisation after every mapping step. Measured interleaved with ours in the same run.
- ``csls_knn_200k_s_faiss`` / ``_torch``: CSLS top-10 for n queries over n targets (r_S and r_T
  by 10-NN over the full vocabularies, then the CSLS search), n = 200k by default. With
  ``--csls-n`` smaller, the time is measured at that n and scaled by (200k / n)^2 (the work is
  quadratic), and ``csls_extrapolated_from_n`` says so.
- ``bf16_matmul_speedup``: fp32 time / bf16 time of a [64, 2048] x [2048, 2048] product here; the
  trainer's ``--precision auto`` uses bf16 only where this is >= 2.
- ``peak_rss_mb``: peak resident memory of this process.

    python bench/ubli.py [--iters 30] [--csls-n 200000] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import torch
from torch import nn

from fairseq_xdomain.ubli.adversarial import AdversarialConfig, BatchedAdversarial
from fairseq_xdomain.ubli.csls import csls_topk, normalize


class ReferenceLoop:
    """MUSE's computational pattern in plain PyTorch (written for this benchmark)."""

    def __init__(self, src, tgt, dim=300, hid=2048, bs=32, most_frequent=75000):
        self.src_emb = nn.Embedding.from_pretrained(src, freeze=True)
        self.tgt_emb = nn.Embedding.from_pretrained(tgt, freeze=True)
        self.mapping = nn.Linear(dim, dim, bias=False)
        self.mapping.weight.data.copy_(torch.eye(dim))
        self.dis = nn.Sequential(
            nn.Dropout(0.1), nn.Linear(dim, hid), nn.LeakyReLU(0.2), nn.Linear(hid, hid),
            nn.LeakyReLU(0.2), nn.Linear(hid, 1), nn.Sigmoid(),
        )
        self.map_opt = torch.optim.SGD(self.mapping.parameters(), lr=0.1)
        self.dis_opt = torch.optim.SGD(self.dis.parameters(), lr=0.1)
        self.bs, self.mf = bs, most_frequent

    def _xy(self, volatile):
        src_ids = torch.randint(0, self.mf, (self.bs,))
        tgt_ids = torch.randint(0, self.mf, (self.bs,))
        with torch.set_grad_enabled(not volatile):
            x = torch.cat([self.mapping(self.src_emb(src_ids)), self.tgt_emb(tgt_ids)], 0)
        y = torch.zeros(2 * self.bs)
        y[: self.bs] = 0.9
        y[self.bs:] = 0.1
        return x, y

    def iteration(self):
        self.dis.train()
        for _ in range(5):
            x, y = self._xy(volatile=True)
            loss = nn.functional.binary_cross_entropy(self.dis(x.detach()).view(-1), y)
            self.dis_opt.zero_grad()
            loss.backward()
            self.dis_opt.step()
        x, y = self._xy(volatile=False)
        loss = nn.functional.binary_cross_entropy(self.dis(x).view(-1), 1 - y)
        self.map_opt.zero_grad()
        loss.backward()
        self.map_opt.step()
        w = self.mapping.weight.data
        w.copy_(1.001 * w - 0.001 * w.mm(w.t().mm(w)))


def bf16_speedup(reps: int = 5):
    """fp32 time / bf16 time of the discriminator's largest product, both warmed up."""
    a, b = torch.randn(64, 2048), torch.randn(2048, 2048)
    a16, b16 = a.bfloat16(), b.bfloat16()

    def per_call(x, y):
        x @ y  # warm-up (kernel selection, packing)
        t = time.perf_counter()
        for _ in range(reps):
            x @ y
        return (time.perf_counter() - t) / reps

    return per_call(a, b) / per_call(a16, b16)


def csls_time(n, dim, backend):
    g = torch.Generator().manual_seed(0)
    src = normalize(torch.randn(n, dim, generator=g))
    tgt = normalize(torch.randn(n, dim, generator=g))
    t = time.perf_counter()
    csls_topk(src, tgt, k_csls=10, topn=10, backend=backend)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iters", type=int, default=30, help="timed iterations per round")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds (ours, reference)")
    ap.add_argument("--csls-n", type=int, default=200000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-csls", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, dim = 200000, 300
    src, tgt = torch.randn(n, dim), torch.randn(n, dim)
    ours = BatchedAdversarial(src, tgt, [0], AdversarialConfig())
    ref = ReferenceLoop(src, tgt)
    for _ in range(2):  # warm-up
        ours.iteration()
        ref.iteration()
    # Interleaved one iteration at a time; the median per-iteration time is robust to the
    # bursts of load of a shared machine.
    d_ours, d_ref = [], []
    for _ in range(args.rounds * args.iters):
        t = time.perf_counter()
        ours.iteration()
        d_ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        ref.iteration()
        d_ref.append(time.perf_counter() - t)
    per_it = 2 * 32
    result = {
        "adversarial_samples_per_s": round(per_it / statistics.median(d_ours), 1),
        "muse_reference_samples_per_s": round(per_it / statistics.median(d_ref), 1),
        "adversarial_samples_per_s_mean": round(per_it * len(d_ours) / sum(d_ours), 1),
        "muse_reference_samples_per_s_mean": round(per_it * len(d_ref) / sum(d_ref), 1),
        "muse_reference": "our own plain fp32 PyTorch loop with MUSE's computational pattern "
                          "(not MUSE's code), measured interleaved in the same run",
    }
    result["speedup"] = round(result["adversarial_samples_per_s"]
                              / result["muse_reference_samples_per_s"], 3)
    result["bf16_matmul_speedup"] = round(bf16_speedup(), 4)
    result["precision"] = "fp32"
    if not args.skip_csls:
        scale = (200000 / args.csls_n) ** 2
        for backend in ("faiss", "torch"):
            result[f"csls_knn_200k_s_{backend}"] = round(csls_time(args.csls_n, dim, backend) * scale, 1)
        if args.csls_n != 200000:
            result["csls_extrapolated_from_n"] = args.csls_n
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["threads"] = args.threads
    result["iterations_timed"] = args.rounds * args.iters
    print(json.dumps(result))


if __name__ == "__main__":
    main()

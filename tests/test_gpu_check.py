"""bench/gpu_check.py in its --tiny CPU form: every part runs and reports (about a minute)."""
from __future__ import annotations

import json
import math

from conftest import REPO, run


def test_gpu_check_tiny(tmp_path):
    out = tmp_path / "gpu_check.json"
    proc = run(["python", REPO / "bench" / "gpu_check.py", "--tiny", "--out", out],
               env={"OMP_NUM_THREADS": "1"}, timeout=300)
    res = json.loads(out.read_text())
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == res
    assert res["ok"] and res["device"] == "cpu"
    grid = res["ubli_grid"]
    assert grid["seeds"] == 4 and grid["samples_per_s"] > 0
    knn = res["csls_knn"]
    assert knn["faiss_top1_checksum"] == knn["torch_top1_checksum"]  # both back ends agree
    for part in ("xlm_mlm", "unmt_xdomain", "unmt_ddp_ws1"):
        assert res[part]["num_updates"] == 3 and math.isfinite(res[part]["loss"]), res[part]
        assert res[part]["wps"] > 0
    assert res["unmt_ddp_ws1"]["backend"] == "gloo"
    # the same seed and data: DDP initialisation with world size 1 trains the same model
    assert res["unmt_ddp_ws1"]["loss"] == res["unmt_xdomain"]["loss"]

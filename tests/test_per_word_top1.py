"""``ubli/evaluation.py`` stores per-word top-1 correctness (``per_word_top1``): the paired data
of the report's exact McNemar test and bootstrap P@1 interval; it must agree with the P@1."""
from __future__ import annotations

import pytest
import torch
from conftest import write_lines

from fairseq_xdomain.ubli.evaluation import evaluate_translation, load_dictionary


def test_per_word_top1_matches_p_at_1(tmp_path):
    src_words, tgt_words = ["a", "b", "c", "d"], ["a", "x", "y", "d"]
    # a -> a (right), b -> x (right: gold x or y), c -> d (wrong: gold y), d -> d (right)
    src = torch.eye(4)[[0, 1, 3, 3]] + 0.01 * torch.eye(4)
    path = write_lines(tmp_path / "d.txt", ["a a", "b x", "b y", "c y", "d d"])
    ev = evaluate_translation(src, torch.eye(4), src_words, tgt_words, load_dictionary(path))
    pw = ev["per_word_top1"]
    assert pw["words"] == ["a", "b", "c", "d"]
    assert pw["nn"] == [1, 1, 0, 1]
    for method in ("nn", "csls"):
        assert ev[f"{method}_p@1"] == pytest.approx(100.0 * sum(pw[method]) / len(pw[method]))

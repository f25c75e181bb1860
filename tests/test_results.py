"""fairseq_xdomain/results.py: every kind round-trips; a file that is not a valid result is a
one-line error naming the file and the field; the schema is documented once, field by field."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import REPO

from fairseq_xdomain import results as R
from fairseq_xdomain.common.atomic import write_json
from fairseq_xdomain.common.errors import UserError

EXAMPLES = [
    R.UBLIResult(method="muse", p_at_1=36.4, pair="en-fr", domains="Wiki-UN", init="joint",
               metrics={"csls_p@1": 36.4, "nn_p@1": 30.0, "coverage": 0.95, "n_nonident": 10},
               criterion=0.61, selected={"seed": 1, "epochs": 3, "refinement": 5,
                                         "orthogonality": {"fro_dev": 1e-5}},
               config={"seed": 1}, wall_s=12.5),
    R.STDMResult(stdm=0.25, corpus1="a.txt", corpus2="b.txt", pair="en-es", s11=1.0, s22=1.0,
               s12=0.25, svd_dim_used=50, config={"seed": 0}),
    R.WordsimResult(space="joint", harmonic_mean=0.434, pearson=0.4, spearman=0.47,
                  coverage=0.8, pair="en-fr", domains="UN-Wiki", init="joint", n_pairs=10,
                  n_covered=8),
    R.UNMTCurve(direction="fr-en", init="baseline", epochs=[1, 2, 3], bleu=[0.5, 1.25, 2.0],
              pair="en-fr", data="En Wiki, Fr UN", mlm_data="En Wiki, Fr Wiki"),
]


@pytest.mark.parametrize("result", EXAMPLES, ids=lambda r: r.kind)
def test_round_trip(tmp_path, result):
    path = R.write_result(tmp_path / "sub" / "r.json", result)
    obj = json.loads(path.read_text())
    assert list(obj)[:2] == ["kind", "schema"] and obj["kind"] == result.kind
    assert obj["schema"] == 1
    back = R.read_result(path)
    # the written config block records what computed the result (provenance.py)
    prov = back.config.pop("provenance")
    assert {"libraries", "device", "threads", "git"} <= set(prov)
    assert "sacrebleu" in prov["libraries"] and "numpy" in prov["libraries"]
    assert back == result and "provenance" not in result.config  # the caller's is unchanged
    md = (tmp_path / "sub" / "r.md").read_text()
    assert md.startswith(f"# {result.kind} result") and "| field | value |" in md
    assert [p.name for p in (tmp_path / "sub").iterdir() if p.name.startswith(".")] == []


def test_defaults_for_missing_optional_fields(tmp_path):
    write_json(tmp_path / "r.json", {"kind": "ubli", "schema": 1, "method": "copy",
                                     "p_at_1": 12.5})
    res = R.read_result(tmp_path / "r.json")
    assert (res.pair, res.init, res.metrics, res.selected, res.criterion) == (
        None, None, {}, {}, None)


@pytest.mark.parametrize("obj, message", [
    ({"kind": "ubli", "schema": 1, "method": "muse", "p1": 3.0},
     "unknown field 'p1' in a ubli result"),
    ({"kind": "ubli", "schema": 1, "p_at_1": 3.0}, "missing field 'method' in a ubli result"),
    ({"kind": "ubli", "schema": 1, "method": "muse", "p_at_1": "3"},
     "field 'p_at_1': expected float | None, got '3'"),
    ({"kind": "ubli", "schema": 1, "method": "muse", "init": "both"},
     "field 'init': 'both' is not one of 'separate', 'joint', None"),
    ({"kind": "ubli", "schema": 1, "method": "muse", "pair": "enfr"},
     "field 'pair': 'enfr' is not src-tgt (e.g. en-de)"),
    ({"kind": "ubli", "schema": 1, "method": "muse", "metrics": {"coverage": 95.0}},
     "field 'metrics': coverage 95.0 is not a fraction in [0, 1]"),
    ({"kind": "ubli", "schema": 1, "method": "muse", "metrics": {"csls_p@1": 0.364e3}},
     "field 'metrics': csls_p@1 364.0 is not a percentage in [0, 100]"),
    ({"kind": "wordsim", "schema": 1, "space": "joint", "harmonic_mean": 0.1, "coverage": 80},
     "field 'coverage': 80 is not a fraction in [0, 1]"),
    ({"kind": "unmt", "schema": 1, "direction": "en-fr", "init": "joint", "epochs": [1, 2],
      "bleu": [1.0]}, "fields 'epochs' and 'bleu' differ in length (2 vs 1)"),
    ({"kind": "unmt", "schema": 1, "direction": "en-fr", "init": "joint", "epochs": [2, 1],
      "bleu": [1.0, 2.0]}, "field 'epochs': not increasing"),
    ({"kind": "stdm", "stdm": 0.2, "corpus1": "a", "corpus2": "b"},
     "field 'schema': None, expected 1"),
    ({"kind": "ubli_config", "criterion": 0.3}, "kind 'ubli_config' is an intermediate record"),
    ({"kind": "mlm"}, "kind 'mlm' is not a result kind (ubli, stdm, wordsim, unmt)"),
    ({"p1": 3}, "no 'kind' field (not a result file)"),
    ([1, 2], "not a JSON object"),
])
def test_invalid_files_name_file_and_field(tmp_path, obj, message):
    path = tmp_path / "bad.json"
    write_json(path, obj)
    with pytest.raises(R.NotAResult) as err:
        R.read_result(path)
    assert isinstance(err.value, UserError) and str(err.value).startswith(f"{path}: ")
    assert message in str(err.value), str(err.value)


def test_unreadable_json_and_invalid_write(tmp_path):
    (tmp_path / "x.json").write_text("{nope")
    with pytest.raises(R.NotAResult, match="not readable JSON") as err:
        R.read_result(tmp_path / "x.json")
    assert err.value.reason == "unreadable JSON"
    with pytest.raises(R.NotAResult, match="field 'init'"):  # nothing is written
        R.write_result(tmp_path / "w.json", R.UNMTCurve(direction="en-fr", init="separate",
                                                    epochs=[1], bleu=[1.0]))
    assert not (tmp_path / "w.json").exists()


def test_unmt_curves_from_valid_rows():
    rows = [{"epoch": 1, "bleu_en_fr": 1.0, "bleu_fr_en": 2.0, "bleu": 1.5},
            {"epoch": 2, "bleu_en_fr": 3.0, "bleu_fr_en": 4.0},
            {"epoch": 2, "bleu_en_fr": 3.5, "bleu_fr_en": 4.5}]  # the last row of an epoch wins
    a, b = R.unmt_curves(rows, langs=("en", "fr"), init="joint", data="d", config={"seed": 1})
    assert (a.direction, a.epochs, a.bleu, a.pair) == ("en-fr", [1, 2], [1.0, 3.5], "en-fr")
    assert (b.direction, b.bleu, b.config) == ("fr-en", [2.0, 4.5], {"seed": 1})
    assert R.unmt_file_name(b) == "bleu.joint.fr-en.json"
    with pytest.raises(UserError, match=r"no bleu_fr_en at epoch\(s\) \[2\]"):
        R.unmt_curves([rows[0], {"epoch": 2, "bleu_en_fr": 1.0}], langs=("en", "fr"),
                    init="joint", data="d")
    assert R.result_to_dict(a)["bleu"] == [1.0, 3.5]


def test_schema_documented_once_field_by_field():
    """docs/wordsim-report.md lists every field of every kind (the one description of it)."""
    doc = (Path(REPO) / "docs" / "wordsim-report.md").read_text(encoding="utf-8")
    for kind, cls in R.RESULT_TYPES.items():
        section = doc[doc.index(f"`{cls.__name__}` (kind `{kind}`)"):]
        end = section.find("\n#", 1)
        section = section[:end] if end > 0 else section
        for f in dataclasses.fields(cls):
            assert f"`{f.name}`" in section, (kind, f.name)

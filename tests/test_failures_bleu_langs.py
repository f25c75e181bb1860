"""Issue 22, kinds 6 and 7: one rule for language codes; BLEU's tokenizer fits the target language.

- kind 7 (``bleu_meter.resolve_tokenize``, used by validation, ``xdomain-eval-bleu`` and hence the
  drivers): the target language's sacrebleu default (``zh`` for Chinese, ``ja-mecab``,
  ``ko-mecab``, else ``13a``), settable, in the signature. Case 29's near-perfect Chinese output
  scores 86.70 (sacrebleu -l en-zh), not 0.0.
- kind 6 (``common/langcodes.py``): ``pt-BR``, ``zh_Hans``, ``EN`` are codes for every tool; a
  direction is split against the known languages (case 30); the first step refuses what is not a
  code.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import sacrebleu
from conftest import run

from fairseq_xdomain.bleu_meter import add_bleu_stats, reduce_bleu, resolve_tokenize, signature
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.langcodes import base_language, check_code, split_direction

DATA = Path(__file__).parent / "data" / "bleu_zh"


def _lines(name):
    return (DATA / name).read_text(encoding="utf-8").splitlines()


def test_validation_meter_follows_the_target_language():
    from fairseq.logging import metrics

    hyps, refs = _lines("hyps.zh"), _lines("refs.zh")
    log = {}
    english = ["the cat sat on the mat today", "a dog ran in the big park"]
    add_bleu_stats(log, {("en", "zh_Hans"): (hyps, refs), ("zh_Hans", "en"): (english, english)},
                   [("en", "zh_Hans"), ("zh_Hans", "en")])
    with metrics.aggregate() as agg:
        reduce_bleu([log])
        values = agg.get_smoothed_values()
    assert values["bleu_en_zh_Hans"] == 86.70  # = sacrebleu -l en-zh (tok:zh); 13a gives 0.0
    assert values["bleu_zh_Hans_en"] == 100.0
    assert sacrebleu.corpus_bleu(hyps, [refs], tokenize="13a").score == 0.0
    log13a = {}
    add_bleu_stats(log13a, {("en", "zh"): (hyps, refs)}, [("en", "zh")], tokenize="13a")
    with metrics.aggregate() as agg:
        reduce_bleu([log13a])
        assert agg.get_smoothed_values()["bleu_en_zh"] == 0.0  # settable


def test_tokenizer_rule_and_signature():
    assert resolve_tokenize("auto", "zh") == resolve_tokenize("auto", "ZH-cn") == "zh"
    assert resolve_tokenize("auto", "pt-BR") == resolve_tokenize("auto", "EN") == "13a"
    assert resolve_tokenize("char", "en") == "char"
    assert "|tok:zh|" in signature("auto", "zh_Hans")
    assert "|tok:13a|" in signature("auto", "en")
    with pytest.raises(UserError, match="BLEU tokenizer 'moses'"):
        resolve_tokenize("moses", "en")


def test_japanese_without_mecab_is_one_line_naming_the_install():
    try:
        import MeCab  # noqa: F401
    except ImportError:
        with pytest.raises(UserError) as err:
            resolve_tokenize("auto", "ja")
        assert "ja-mecab" in str(err.value) and "sacrebleu[ja]" in str(err.value)
    else:
        assert resolve_tokenize("auto", "ja") == "ja-mecab"


def test_eval_bleu_has_the_tokenizer_option():
    out = run(["xdomain-eval-bleu", "--help"]).stdout
    assert "--tokenize" in out and "ja-mecab" in out


def test_one_rule_for_language_codes():
    for code in ("en", "pt-BR", "zh_Hans", "EN", "sr-Latn-RS"):
        assert check_code(code) == code
    for bad in ("", "p t", "-en", "en-", "1en", "en,fr", "ja/JP"):
        with pytest.raises(UserError):
            check_code(bad, "--train")
    assert base_language("pt-BR") == "pt" and base_language("zh_Hans") == "zh"
    assert split_direction("pt-BR-en", ["pt-BR", "en"]) == ("pt-BR", "en")
    assert split_direction("en-pt-BR", ["pt-BR", "en"]) == ("en", "pt-BR")
    assert split_direction("zh_Hans-EN", ["zh_Hans", "EN"]) == ("zh_Hans", "EN")
    with pytest.raises(UserError, match="two of the languages pt-BR, en"):
        split_direction("pt-en", ["pt-BR", "en"])


def test_binarize_refuses_what_is_not_a_code(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("a b\n", encoding="utf-8")
    model = tmp_path / "spm.model"
    model.write_bytes(b"not read: the code is refused first")
    proc = run(["xdomain-prep", "binarize", "--spm-model", model, "--train", f"p t={f}", "--train",
                f"en={f}", "-o", tmp_path / "D"], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: --train/--valid: 'p t' is not "
                                                           "a language code")

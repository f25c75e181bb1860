"""xdomain-prep binarize: the layout of docs/design.md, loadable by fairseq, lossless."""
from __future__ import annotations

import sentencepiece as spm
from test_prep_concat_spm import random_corpus

from fairseq_xdomain.preprocess.binarize import binarize
from fairseq_xdomain.preprocess.spm import apply_spm, train_spm


def _corpus(path, n, letters, seed):
    return random_corpus(path, n, letters, seed, n_words=200, word_len=(2, 6), sent_len=(1, 10))


def test_binarized_layout_loads_with_fairseq_and_round_trips(tmp_path):
    from fairseq.data import Dictionary, data_utils

    raw = {lang: _corpus(tmp_path / f"{lang}.txt", 400, letters, seed)
           for seed, (lang, letters) in enumerate((("en", "abcdefgh"), ("fr", "abcéèàçù")))}
    dev = {lang: _corpus(tmp_path / f"dev.{lang}", 30, "abcdefgh", 7 + i)
           for i, lang in enumerate(("en", "fr"))}
    train_spm(list(raw.values()), tmp_path / "spm", vocab_size=80, seed=0)
    model = tmp_path / "spm.model"
    enc = {}
    for name, path in [*raw.items(), *((f"dev.{k}", v) for k, v in dev.items())]:
        enc[name] = tmp_path / f"{name}.spm"
        apply_spm(path, enc[name], model)
    data = tmp_path / "DATA"
    result = binarize(data, model, {"en": enc["en"], "fr": enc["fr"]}, valid={"fr": enc["dev.fr"]},
                      parallel={"test": {"fr": enc["dev.fr"], "en": enc["dev.en"]}})
    expected = {"dict.txt", "spm.model", "spm.vocab", "en/train.bin", "en/train.idx",
                "en/dict.txt", "fr/train.bin", "fr/train.idx", "fr/dict.txt", "fr/valid.bin",
                "fr/valid.idx", "test.en-fr.en.bin", "test.en-fr.en.idx", "test.en-fr.fr.bin",
                "test.en-fr.fr.idx", "dict.en.txt", "dict.fr.txt"}
    assert set(result["files"]) == expected
    assert sorted(p.name for p in data.iterdir() if p.name.startswith(".")) == []

    sp = spm.SentencePieceProcessor(model_file=str(model))
    dictionary = Dictionary.load(str(data / "dict.txt"))
    assert len(dictionary) == 4 + sp.get_piece_size() - 3  # fairseq specials + pieces - <unk,s,/s>
    for lang in ("en", "fr"):
        assert (data / lang / "dict.txt").read_bytes() == (data / "dict.txt").read_bytes()
    checks = [("en/train", enc["en"]), ("fr/train", enc["fr"]), ("fr/valid", enc["dev.fr"]),
              ("test.en-fr.en", enc["dev.en"]), ("test.en-fr.fr", enc["dev.fr"])]
    for prefix, text in checks:
        ds = data_utils.load_indexed_dataset(str(data / prefix), dictionary)
        lines = text.read_text(encoding="utf-8").splitlines()
        assert len(ds) == len(lines), prefix
        for i in (0, len(lines) // 2, len(lines) - 1):
            ids = ds[i]
            assert ids[-1].item() == dictionary.eos()
            assert dictionary.string(ids[:-1]) == lines[i], (prefix, i)
            assert dictionary.unk() not in ids.tolist()
    ds = data_utils.load_indexed_dataset(str(data / "en/train"), dictionary)
    original = raw["en"].read_text(encoding="utf-8").splitlines()
    assert [sp.decode_pieces(dictionary.string(ds[i][:-1]).split()) for i in range(5)] == \
        original[:5]  # back to the original text

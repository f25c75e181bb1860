"""xdomain-prep concat (origin sidecar) and spm train/apply (joint model, lossless pieces)."""
from __future__ import annotations

import random

import sentencepiece as spm
from conftest import run, write_lines


def test_concat_interleave_append_and_origin(tmp_path):
    a = write_lines(tmp_path / "a.txt", ["a1", "a2", "a3"])
    b = write_lines(tmp_path / "b.txt", ["b1", "b2", "b3", "b4", "b5"])
    out = tmp_path / "joint.txt"
    proc = run(["xdomain-prep", "concat", a, b, "--tags", "en.wiki", "fr.un", "-o", out])
    assert out.read_text().splitlines() == ["a1", "b1", "a2", "b2", "a3", "b3", "b4", "b5"]
    origin = (tmp_path / "joint.txt.origin").read_text().splitlines()
    assert origin == ["en\twiki", "fr\tun"] * 3 + ["fr\tun"] * 2
    assert "en.wiki: 3, fr.un: 5" in proc.stderr
    run(["xdomain-prep", "concat", a, b, "--tags", "en.wiki", "fr.un", "--mode", "append",
         "-o", out])
    assert out.read_text().splitlines() == ["a1", "a2", "a3", "b1", "b2", "b3", "b4", "b5"]
    assert (tmp_path / "joint.txt.origin").read_text().splitlines() == \
        ["en\twiki"] * 3 + ["fr\tun"] * 5
    proc = run(["xdomain-prep", "concat", a, b, "--tags", "en", "fr.un", "-o", out], check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: --tags: 'en' is not of the form LANG.DOMAIN (e.g. en.wiki)"


def random_corpus(path, n, letters, seed, n_words=300, word_len=(2, 7), sent_len=(3, 12)):
    """``n`` lines of words drawn from ``n_words`` random words of ``letters`` (seeded); also
    the corpora of test_prep_binarize."""
    rng = random.Random(seed)
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(*word_len)))
             for _ in range(n_words)]
    return write_lines(path, [" ".join(rng.choice(words) for _ in range(rng.randint(*sent_len)))
                              for _ in range(n)])


def test_spm_train_apply_roundtrip_and_sampling_cap(tmp_path):
    en = random_corpus(tmp_path / "en.txt", 1500, "abcdefghij", 0)
    ru = random_corpus(tmp_path / "ru.txt", 1500, "абвгдежзик", 1)
    prefix = tmp_path / "spm"
    proc = run(["xdomain-prep", "spm", "train", en, ru, "-o", prefix, "--vocab-size", "120",
                "--model-type", "unigram", "--max-sentences", "1000", "--seed", "3"])
    assert "3000 sentences read, 1000 used for training" in proc.stderr
    sp = spm.SentencePieceProcessor(model_file=str(prefix) + ".model")
    assert sp.get_piece_size() == 120
    pieces = {sp.id_to_piece(i) for i in range(sp.get_piece_size())}
    assert any("а" in p for p in pieces) and any("a" in p for p in pieces)  # joint model
    for src in (en, ru):
        out = tmp_path / f"{src.stem}.spm"
        run(["xdomain-prep", "spm", "apply", src, "-o", out, "--model", f"{prefix}.model"])
        encoded = out.read_text(encoding="utf-8").splitlines()
        original = src.read_text(encoding="utf-8").splitlines()
        assert len(encoded) == len(original)
        assert [sp.decode_pieces(line.split()) for line in encoded] == original
    proc = run(["xdomain-prep", "spm", "train", en, "-o", tmp_path / "big", "--vocab-size",
                "50000"], check=False)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2
    assert last == (f"error: {en}: sentencepiece training failed: Vocabulary size too high "
                    "(50000). Please set it to a value <= 1159.")
    assert not (tmp_path / "big.model").exists()

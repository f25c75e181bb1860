"""xdomain-prep tokenize: same output as sacremoses, order kept on 2 workers, bad language."""
from __future__ import annotations

import random

from conftest import run, write_lines
from sacremoses import MosesPunctNormalizer, MosesTokenizer


def _text(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = ["The", "cat's", "U.S.", "Mr.", "Smith", "said", "\"hello\"", "(maybe)", "3.5%",
             "don't", "rock-n-roll", "A&B", "<tag>", "Gov.", "x", "Dr.", "end.", "—", "«oui»"]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(0, 14))) + rng.choice([".", "!", ""])
            for _ in range(n)]


def test_matches_sacremoses_and_keeps_order_with_two_workers(tmp_path):
    lines = _text(600)
    src = write_lines(tmp_path / "in.txt", lines)
    norm, tok = MosesPunctNormalizer(lang="en"), MosesTokenizer(lang="en")
    expected = [tok.tokenize(norm.normalize(s), escape=False, return_str=True) for s in lines]
    outs = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}.txt"
        run(["xdomain-prep", "tokenize", "--lang", "en", "--workers", workers,
             "--chunk-size", "23", src, "-o", out])
        outs[workers] = out.read_text(encoding="utf-8").split("\n")[:-1]
    assert outs[1] == expected
    assert outs[2] == expected  # order preserved across 27 chunks on 2 processes
    assert "&" in "".join(outs[1]) and "&amp;" not in "".join(outs[1])  # escape=False


def test_lowercase_and_french_rules(tmp_path):
    src = write_lines(tmp_path / "fr.txt", ["L'Union Européenne a dit « Bonjour » !", ""])
    out = tmp_path / "out.txt"
    run(["xdomain-prep", "tokenize", "--lang", "fr", "--lowercase", "--workers", "1", src,
         "-o", out])
    assert out.read_text(encoding="utf-8").split("\n") == [
        "l' union européenne a dit \" bonjour \" !", "", ""]


def test_unknown_language_is_a_one_line_error(tmp_path):
    src = write_lines(tmp_path / "in.txt", ["hello"])
    proc = run(["xdomain-prep", "tokenize", "--lang", "xx", src, "-o", tmp_path / "o"],
               check=False)
    assert proc.returncode == 2
    msg = proc.stderr.strip()
    assert len(msg.splitlines()) == 1
    assert msg.startswith(f"error: {src}: unknown tokenizer language 'xx' (supported Moses ")
    assert ", en, " in msg and ", fr, " in msg and ", ru, " in msg
    assert not (tmp_path / "o").exists()

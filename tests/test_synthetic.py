"""Generated corpora: deterministic, complete, and with the promised ground truth."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from conftest import run

from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.synthetic import write_cipher_pair, write_mismatched_pair


def _read(path):
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def cipher(tmp_path_factory):
    out = tmp_path_factory.mktemp("cipher")
    return write_cipher_pair(out, n_train=2000, n_valid=100, n_test=120, vocab_size=300,
                             n_shared=10, seed=3)


def test_cipher_files_and_parallel(cipher):
    expected = {"train.aa", "train.bb", "valid.aa-bb.aa", "valid.aa-bb.bb", "test.aa-bb.aa",
                "test.aa-bb.bb", "dict.aa-bb.txt", "meta"}
    assert set(cipher) == expected
    assert all(p.exists() for p in cipher.values())
    assert len(_read(cipher["train.aa"])) == 2000 and len(_read(cipher["train.bb"])) == 2000
    assert len(_read(cipher["test.aa-bb.bb"])) == 120
    table = dict(line.split(" ") for line in _read(cipher["dict.aa-bb.txt"]))
    meta = json.loads(cipher["meta"].read_text())
    shared = set(meta["shared_tokens"])
    assert len(shared) == 10
    # valid/test are word-for-word translations of each other through the cipher dictionary
    for split, n in (("valid", 100), ("test", 120)):
        src = _read(cipher[f"{split}.aa-bb.aa"])
        tgt = _read(cipher[f"{split}.aa-bb.bb"])
        assert len(src) == len(tgt) == n
        for s, t in zip(src, tgt):
            sw, tw = s.split(), t.split()
            assert len(sw) == len(tw) >= 5
            assert [table.get(w, w) for w in sw] == tw
    # vocabularies are disjoint apart from the shared tokens; every shared token is identical
    v1 = {w for line in _read(cipher["train.aa"]) for w in line.split()}
    v2 = {w for line in _read(cipher["train.bb"]) for w in line.split()}
    assert v1 & v2 <= shared
    assert len(v1 & v2) >= 5
    assert all(table[w] != w for w in table)
    # train sides are monolingual, not translations of each other
    a = [" ".join(table.get(w, w) for w in s.split()) for s in _read(cipher["train.aa"])]
    assert sum(x == y for x, y in zip(a, _read(cipher["train.bb"]))) < 20
    # Zipfian: the most frequent word is much more frequent than the median word
    counts = sorted(Counter(w for line in _read(cipher["train.aa"]) for w in line.split())
                    .values(), reverse=True)
    assert counts[0] > 10 * counts[len(counts) // 2]


def test_cipher_deterministic(tmp_path, cipher):
    again = write_cipher_pair(tmp_path / "again", n_train=2000, n_valid=100, n_test=120,
                              vocab_size=300, n_shared=10, seed=3)
    for name in ("train.aa", "test.aa-bb.bb", "dict.aa-bb.txt"):
        assert again[name].read_bytes() == cipher[name].read_bytes()
    other = write_cipher_pair(tmp_path / "other", n_train=2000, n_valid=100, n_test=120,
                              vocab_size=300, n_shared=10, seed=4)
    assert other["train.aa"].read_bytes() != cipher["train.aa"].read_bytes()


def test_cipher_cli_and_errors(tmp_path):
    proc = run(["xdomain-synth", "cipher", "--out", tmp_path / "c", "--n-train", "50",
                "--n-valid", "5", "--n-test", "5", "--vocab-size", "200", "--langs", "xx,yy"])
    assert "train.xx" in proc.stdout
    assert len(_read(tmp_path / "c" / "test.xx-yy.yy")) == 5
    bad = run(["xdomain-synth", "cipher", "--out", tmp_path / "d", "--langs", "xx,xx"],
              check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error:")
    with pytest.raises(UserError):
        write_cipher_pair(tmp_path / "e", vocab_size=20, n_shared=10)


@pytest.fixture(scope="module")
def mismatched(tmp_path_factory):
    out = tmp_path_factory.mktemp("mismatched")
    return write_mismatched_pair(out, n_lines=4000, vocab_size=600, n_shared=20, seed=1,
                                 n_dict_test=60, n_dict_train=100, min_count=5, n_wordsim=80)


def test_mismatched_files_and_dictionaries(mismatched):
    for name in ("aa.wiki.txt", "aa.un.txt", "bb.wiki.txt", "bb.un.txt", "dict.aa-bb.test.txt",
                 "dict.aa-bb.train.txt", "aa-bb.test.data.txt", "aa-bb.test.gold.txt", "meta"):
        assert mismatched[name].exists(), name
    corpora = {name: Counter(w for line in _read(mismatched[name]) for w in line.split())
               for name in ("aa.wiki.txt", "aa.un.txt", "bb.wiki.txt", "bb.un.txt")}
    assert all(len(_read(mismatched[n])) == 4000 for n in corpora)
    test = [line.split(" ") for line in _read(mismatched["dict.aa-bb.test.txt"])]
    train = [line.split(" ") for line in _read(mismatched["dict.aa-bb.train.txt"])]
    assert len(test) == 60 and len(train) == 100
    assert not {s for s, _ in test} & {s for s, _ in train}
    for src, tgt in test + train:  # every dictionary word occurs in every corpus of its language
        assert corpora["aa.wiki.txt"][src] >= 5 and corpora["aa.un.txt"][src] >= 5
        assert corpora["bb.wiki.txt"][tgt] >= 5 and corpora["bb.un.txt"][tgt] >= 5
    # word similarity set: aligned data/gold files, scores on the 0-4 half-point scale
    data = [line.split("\t") for line in _read(mismatched["aa-bb.test.data.txt"])]
    gold = [float(x) for x in _read(mismatched["aa-bb.test.gold.txt"])]
    assert len(data) == len(gold) == 80
    assert all(len(p) == 2 for p in data)
    assert all(0 <= g <= 4 and g * 2 == int(g * 2) for g in gold)
    assert len(set(gold)) >= 4
    # gold 4.0 exactly for the translation pairs (the test dictionary's): at least the 10% the
    # generator draws as translations (8 of 80; random pairs may add more), never above 3.5 else
    table = dict(test)
    is_translation = [table.get(a) == b for a, b in data]
    assert sum(is_translation) >= 8
    assert [g == 4.0 for g in gold] == is_translation
    assert max(g for g, t in zip(gold, is_translation) if not t) <= 3.5
    # about 30% of the translations are cognates: the source word plus an ending, never identical
    pairs = [(s, t) for s, t in test + train if s != t]
    cognates = sum(t.startswith(s) and len(t) == len(s) + 2 for s, t in pairs)
    assert 0.15 < cognates / len(pairs) < 0.45


def test_mismatched_domains_differ(mismatched):
    meta = json.loads(mismatched["meta"].read_text())
    mix = {d: np.array(m) for d, m in meta["topic_mixtures"].items()}
    assert set(mix) == {"wiki", "un"}
    assert np.allclose(mix["wiki"].sum(), 1) and np.allclose(mix["un"].sum(), 1)
    assert np.abs(mix["wiki"] - mix["un"]).sum() > 1.0  # total variation > 0.5
    # and the corpora show it: same-domain word distributions are closer than cross-domain ones
    def dist(a, b):
        ca, cb = (Counter(w for line in _read(mismatched[n]) for w in line.split()) for n in (a, b))
        keys = set(ca) | set(cb)
        pa = np.array([ca[k] for k in keys], float)
        pb = np.array([cb[k] for k in keys], float)
        return 0.5 * np.abs(pa / pa.sum() - pb / pb.sum()).sum()

    assert dist("aa.wiki.txt", "aa.un.txt") > 0.2
    # the two languages share only the identical tokens (numbers, names)
    shared = set(meta["shared_tokens"])
    bb_vocab = {w for line in _read(mismatched["bb.un.txt"]) for w in line.split()}
    aa_vocab = {w for line in _read(mismatched["aa.wiki.txt"]) for w in line.split()}
    assert aa_vocab & bb_vocab <= shared and len(aa_vocab & bb_vocab) >= 10


def test_mismatched_deterministic_and_cli(tmp_path, mismatched):
    proc = run(["xdomain-synth", "mismatched", "--out", tmp_path / "m", "--n-lines", "4000",
                "--vocab-size", "600", "--n-shared", "20", "--seed", "1", "--n-dict-test", "60",
                "--n-dict-train", "100", "--min-count", "5", "--n-wordsim", "80"])
    assert "aa.un.txt" in proc.stdout
    for name in ("aa.wiki.txt", "bb.un.txt", "dict.aa-bb.test.txt", "aa-bb.test.gold.txt"):
        assert (tmp_path / "m" / name).read_bytes() == mismatched[name].read_bytes(), name
    bad = run(["xdomain-synth", "mismatched", "--out", tmp_path / "x", "--n-lines", "50",
               "--vocab-size", "600", "--min-count", "50"], check=False)
    assert bad.returncode == 2 and "min-count" in bad.stderr
    with pytest.raises(UserError, match="domain-focus"):
        write_mismatched_pair(tmp_path / "y", n_lines=10, domain_focus=1.5)
    with pytest.raises(UserError, match="domain names"):
        write_mismatched_pair(tmp_path / "z", n_lines=10, domains=("wiki", "wiki"))


def test_mismatched_parallel_dev_sets(tmp_path):
    """n_parallel writes aligned valid/test sets in the last domain; training files unchanged."""
    base = write_mismatched_pair(tmp_path / "a", n_lines=3000, vocab_size=600, min_count=2, seed=3)
    paths = write_mismatched_pair(tmp_path / "b", n_lines=3000, vocab_size=600, min_count=2,
                                  seed=3, n_parallel=40)
    assert (tmp_path / "a" / "aa.un.txt").read_text() == (tmp_path / "b" / "aa.un.txt").read_text()
    assert "valid.aa-bb.aa" not in base
    dico = dict(line.split() for line in (tmp_path / "b" / "dict.aa-bb.train.txt").read_text().splitlines())
    for split in ("valid", "test"):
        src = paths[f"{split}.aa-bb.aa"].read_text().splitlines()
        tgt = paths[f"{split}.aa-bb.bb"].read_text().splitlines()
        assert len(src) == len(tgt) == 40
        assert all(len(s.split()) == len(t.split()) for s, t in zip(src, tgt))
        # words with a dictionary entry appear translated on the other side of the same line
        hits = total = 0
        for s, t in zip(src, tgt):
            for w in s.split():
                if w in dico:
                    total += 1
                    hits += dico[w] in t.split()
        assert total > 20 and hits / total > 0.9
    valid_src = paths["valid.aa-bb.aa"].read_text().splitlines()
    assert valid_src != paths["test.aa-bb.aa"].read_text().splitlines()


def test_mismatched_domain_terms(tmp_path):
    """--term-rate: the UN domain of the chosen language names concepts by its own words, which
    its Wikipedia never uses (leak 0); the other language, the default run and the parallel UN
    sets follow; a language that is not in the pair is a one-line error."""
    proc = run(["xdomain-synth", "mismatched", "--out", tmp_path / "t", "--n-lines", "3000",
                "--vocab-size", "300", "--min-count", "2", "--seed", "4", "--n-parallel", "50",
                "--n-shared", "20", "--n-polysemous", "0",
                "--term-rate", "0.4", "--term-leak", "0", "--term-langs", "bb"])
    assert "bb.un.txt" in proc.stdout
    meta = json.loads((tmp_path / "t" / "synthetic.json").read_text())
    terms = meta["domain_terms"]["un"]
    assert terms["aa"] == [] and len(terms["bb"]) == 100  # 40% of (300 - 30 function - 20 shared)
    vocab = {name: Counter(w for line in _read(tmp_path / "t" / name) for w in line.split())
             for name in ("bb.wiki.txt", "bb.un.txt", "aa.wiki.txt", "aa.un.txt", "test.aa-bb.bb")}
    wiki_forms, un_forms = {w for w, _ in terms["bb"]}, {t for _, t in terms["bb"]}
    assert not un_forms & set(vocab["bb.wiki.txt"])  # leak 0: never in Wikipedia
    assert not wiki_forms & set(vocab["bb.un.txt"])  # nor the Wikipedia word in UN text
    assert len(un_forms & set(vocab["bb.un.txt"])) > 0.9 * len(un_forms)
    assert len(un_forms & set(vocab["test.aa-bb.bb"])) > 20  # the UN dev/test sets use them
    assert len(set(vocab["aa.un.txt"]) - set(vocab["aa.wiki.txt"])) < 5  # aa: one lexicon
    # terms are words of the language, as long as other words of their frequency
    lengths = [len(w) for w in un_forms]
    assert all(w.isalpha() and not set(w) & set("bdgklmnp") for w in un_forms)
    assert 4 < np.mean(lengths) < 9
    # with a leak, the other domain's words appear, rarely
    leaky = write_mismatched_pair(tmp_path / "l", n_lines=3000, vocab_size=300, min_count=2,
                                  seed=4, term_rate=0.4, term_leak=0.1)
    leaky_terms = json.loads(leaky["meta"].read_text())["domain_terms"]["un"]
    assert len(leaky_terms["aa"]) == len(leaky_terms["bb"]) == 68  # default: every language
    un_words = Counter(w for line in _read(leaky["bb.wiki.txt"]) for w in line.split()
                       if w in {t for _, t in leaky_terms["bb"]})
    wiki_words = Counter(w for line in _read(leaky["bb.wiki.txt"]) for w in line.split()
                         if w in {w for w, _ in leaky_terms["bb"]})
    assert 0.05 < sum(un_words.values()) / sum(wiki_words.values()) < 0.15
    # term_rate 0 (the default): no terms
    plain = write_mismatched_pair(tmp_path / "p", n_lines=3000, vocab_size=300, min_count=2, seed=4)
    assert json.loads(plain["meta"].read_text())["domain_terms"]["un"] == {"aa": [], "bb": []}
    bad = run(["xdomain-synth", "mismatched", "--out", tmp_path / "x", "--n-lines", "100",
               "--term-rate", "0.2", "--term-langs", "cc"], check=False)
    assert bad.returncode == 2 and "--term-langs" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_demo_unmt_world_is_a_valid_command(tmp_path):
    """`make demo`'s UNMT pair (experiments.demo.UNMT_WORLD) is accepted by xdomain-synth as written, and
    gives bb UN terms that bb's Wikipedia text never contains."""
    from fairseq_xdomain.experiments.demo import UNMT_WORLD

    world = {**UNMT_WORLD, "n-lines": 2000, "n-parallel": 20}
    run(["xdomain-synth", "mismatched", "--out", tmp_path, "--langs", "aa,bb",
         *[str(x) for k, v in world.items() for x in (f"--{k}", v)]])
    terms = json.loads((tmp_path / "synthetic.json").read_text())["domain_terms"]["un"]
    assert terms["aa"] == [] and len(terms["bb"]) > 50
    wiki = {w for line in _read(tmp_path / "bb.wiki.txt") for w in line.split()}
    un = {w for line in _read(tmp_path / "bb.un.txt") for w in line.split()}
    assert not {t for _, t in terms["bb"]} & wiki and {t for _, t in terms["bb"]} & un

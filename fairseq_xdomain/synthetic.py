"""Generated bilingual corpora with a known ground truth, for tests, benchmarks and the demo.

Both generators share one latent "meaning" model over concept ids 0..V-1 (rank = frequency
order, Zipfian frequencies):

* every content concept has a sparse topic profile ``theta`` (Dirichlet over K topics) and a few
  preferred successors (collocations) drawn from its own topics;
* the most frequent concepts are function words, drawn independently of the topic;
* a latent sentence samples one topic from its domain's topic mixture, then concepts: a function
  word, a collocation of the previous content concept, or a concept of the sentence topic.

A latent corpus is then *realised* in a language by mapping every concept to a word of that
language. Words are syllable strings (``bakeli``, ``savuro``); every language draws its consonants
from its own set, so vocabularies of different languages are disjoint except for the *shared*
concepts, which are spelled identically everywhere (numbers such as ``1987`` and names such as
``Quxo``) and act as the anchors that joint training can use.

``write_cipher_pair``: one domain, two languages that are a word-for-word substitution cipher of
each other (same order). Monolingual train sides come from disjoint sets of latent sentences;
valid/test are parallel (the same latent sentences in both languages). Used by the UNMT benchmark.

``write_mismatched_pair``: two languages x several domains (default ``wiki`` and ``un``) with
different topic mixtures and partly domain-specific collocations; the second language adds some
realisation noise (adjacent word swaps, a few polysemous words). With ``term_rate`` > 0 the later
domains also have their own *terminology*: that share of the content concepts is named, in the
languages of ``term_langs``, by a domain-specific word that the first domain's text uses only with
probability ``term_leak`` (and vice versa); the mapping is recorded in ``synthetic.json``. Writes every
``{lang}.{domain}.txt`` corpus, MUSE dictionaries and a SemEval-2017-Task-2-style cross-lingual
word-similarity set whose gold scores come from the concepts' topic profiles. Under mismatch
(``aa.wiki`` vs ``bb.un``) separately trained embeddings are less isomorphic than under matched
domains, which is the situation the paper studies.

Everything is numpy-vectorised over sentences: 200k lines take seconds. Same seed, same files.
Console script: ``xdomain-synth cipher --out DIR`` / ``xdomain-synth mismatched --out DIR``.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .common.atomic import atomic_open, write_json
from .common.cli import ArgumentParser, setup_logging
from .common.errors import UserError, cli_entry

log = logging.getLogger(__name__)

#: consonant inventories of the generated languages (pairwise disjoint), shared vowels
CONSONANTS = ("bdgklmnp", "fhjrstvz")
VOWELS = "aeiou"
#: consonants of shared proper names (disjoint from every language), capitalised
NAME_CONSONANTS = "cqwxy"


# --------------------------------------------------------------------------- lexicon


def _make_words(n: int, consonants: str, rng: np.random.Generator, capital: bool = False,
                taken: set[str] | None = None) -> list[str]:
    """``n`` distinct syllable-string words; frequent ranks get shorter words (Zipf's brevity)."""
    taken = set() if taken is None else taken
    words: list[str] = []
    cons = np.array(list(consonants))
    vows = np.array(list(VOWELS))
    for rank in range(n):
        n_syl = 1 + int(np.log2(rank + 2) / 2.6)
        attempts = 0
        while True:
            k = n_syl + attempts // 30
            syl_c = cons[rng.integers(0, len(cons), k)]
            syl_v = vows[rng.integers(0, len(vows), k)]
            word = "".join(c + v for c, v in zip(syl_c, syl_v))
            if rng.random() < 0.3:
                word += cons[rng.integers(0, len(cons))]
            if capital:
                word = word.capitalize()
            if word not in taken and len(word) >= 2:
                break
            attempts += 1
        taken.add(word)
        words.append(word)
    return words


def _shared_forms(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` identical-in-every-language tokens: numbers and capitalised names, alternating."""
    numbers = rng.permutation(np.arange(10, 3000))[: (n + 1) // 2]
    names = _make_words(n // 2, NAME_CONSONANTS, rng, capital=True)
    out: list[str] = []
    for i in range(n):
        out.append(str(int(numbers[i // 2])) if i % 2 == 0 else names[i // 2])
    return out


# --------------------------------------------------------------------------- latent model


@dataclass
class LatentModel:
    """Concepts, topics and collocations: the meaning structure shared by every language."""

    vocab_size: int
    n_topics: int
    n_func: int
    base: np.ndarray              # [V] Zipfian base frequency
    theta: np.ndarray             # [V, K] topic profile of every concept (rows sum to 1)
    topic_cdf: np.ndarray         # [K, V] cumulative distribution of content concepts per topic
    func_p: np.ndarray            # [n_func] distribution of function words
    successors: np.ndarray        # [V, S] preferred next content concepts
    shared: np.ndarray            # ids of the concepts spelled identically in every language


def build_latent_model(vocab_size: int, n_topics: int, n_func: int, n_shared: int,
                       rng: np.random.Generator, *, zipf: float = 1.0, topic_alpha: float = 0.08,
                       leak: float = 0.02, n_successors: int = 3,
                       shared_pool: float = 0.3) -> LatentModel:
    V, K = vocab_size, n_topics
    if V < n_func + n_shared + 2 * K:
        raise UserError(f"vocab_size={V} too small for n_func={n_func}, n_shared={n_shared}")
    ranks = np.arange(V)
    base = 1.0 / (ranks + 2.7) ** zipf
    theta = rng.dirichlet(np.full(K, topic_alpha), size=V)
    # every topic gets concepts of every frequency: the dominant topic of rank r is r mod K
    dom = (ranks + rng.integers(0, K)) % K
    theta[ranks, dom] += 1.0
    theta /= theta.sum(1, keepdims=True)
    theta[:n_func] = 1.0 / K  # function words belong to no topic
    content = base.copy()
    content[:n_func] = 0.0
    topic_w = content[None, :] * (theta.T + leak / K)  # [K, V]
    topic_w /= topic_w.sum(1, keepdims=True)
    topic_cdf = np.cumsum(topic_w, axis=1)
    topic_cdf[:, -1] = 1.0
    func_p = base[:n_func] / base[:n_func].sum()
    # collocations: successors drawn from the concept's own topic profile
    succ = np.empty((V, n_successors), dtype=np.int64)
    z = np.array([rng.choice(K, n_successors, p=theta[c]) for c in range(V)])
    u = rng.random((V, n_successors))
    for k in range(K):
        rows = z == k
        succ[rows] = np.searchsorted(topic_cdf[k], u[rows], side="right")
    succ = np.minimum(succ, V - 1)
    pool_hi = max(n_func + n_shared, int(n_func + shared_pool * (V - n_func)))
    shared = np.sort(rng.choice(np.arange(n_func, pool_hi), n_shared, replace=False))
    return LatentModel(V, K, n_func, base, theta, topic_cdf, func_p, succ, shared)


def domain_successors(model: LatentModel, shift: float, rng: np.random.Generator) -> np.ndarray:
    """A domain's collocation table: each slot re-drawn from the concept's topics w.p. ``shift``."""
    succ = model.successors.copy()
    redraw = rng.random(succ.shape) < shift
    rows, cols = np.nonzero(redraw)
    if len(rows):
        th = model.theta[rows]
        z = (th.cumsum(1) < rng.random(len(rows))[:, None]).sum(1).clip(0, model.n_topics - 1)
        u = rng.random(len(rows))
        new = np.empty(len(rows), dtype=np.int64)
        for k in np.unique(z):
            sel = z == k
            new[sel] = np.searchsorted(model.topic_cdf[k], u[sel], side="right")
        succ[rows, cols] = np.minimum(new, model.vocab_size - 1)
    return succ


def sample_sentences(model: LatentModel, n: int, topic_mix: np.ndarray, successors: np.ndarray,
                     rng: np.random.Generator, *, min_len: int, max_len: int, p_func: float,
                     p_follow: float, func_p: np.ndarray | None = None):
    """``n`` latent sentences: returns (tokens [n, max_len] int, lengths [n], topics [n])."""
    func_cdf = np.cumsum(model.func_p if func_p is None else func_p)
    func_cdf[-1] = 1.0
    mix_cdf = np.cumsum(topic_mix)
    mix_cdf[-1] = 1.0
    topics = np.searchsorted(mix_cdf, rng.random(n), side="right").clip(0, model.n_topics - 1)
    lengths = rng.integers(min_len, max_len + 1, n)
    tokens = np.zeros((n, max_len), dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)  # last content concept of each sentence
    by_topic = [np.nonzero(topics == k)[0] for k in range(model.n_topics)]
    S = successors.shape[1]
    for t in range(max_len):
        r = rng.random(n)
        u = rng.random(n)
        topical = np.empty(n, dtype=np.int64)
        for k, rows in enumerate(by_topic):
            if len(rows):
                topical[rows] = np.searchsorted(model.topic_cdf[k], u[rows], side="right")
        topical = np.minimum(topical, model.vocab_size - 1)
        follow = successors[np.maximum(last, 0), rng.integers(0, S, n)]
        func = np.searchsorted(func_cdf, rng.random(n), side="right").clip(0, model.n_func - 1)
        is_func = r < p_func
        is_follow = (~is_func) & (r < p_func + p_follow) & (last >= 0)
        tok = np.where(is_func, func, np.where(is_follow, follow, topical))
        tokens[:, t] = tok
        last = np.where(is_func, last, tok)
    tokens[np.arange(max_len)[None, :] >= lengths[:, None]] = -1
    return tokens, lengths, topics


def swap_noise(tokens: np.ndarray, lengths: np.ndarray, p_swap: float,
               rng: np.random.Generator) -> np.ndarray:
    """Swap adjacent tokens with probability ``p_swap`` per position (word-order noise)."""
    if p_swap <= 0:
        return tokens
    tokens = tokens.copy()
    rows = np.arange(len(tokens))
    for t in range(tokens.shape[1] - 1):
        do = (rng.random(len(tokens)) < p_swap) & (t + 1 < lengths)
        a, b = tokens[do, t].copy(), tokens[do, t + 1].copy()
        tokens[rows[do], t] = b
        tokens[rows[do], t + 1] = a
    return tokens


def realise(tokens: np.ndarray, lengths: np.ndarray, words: list[str]) -> list[str]:
    """Latent token matrix -> text lines in a language with lexicon ``words``."""
    lex = np.array(words + [""], dtype=object)
    surf = lex[tokens].tolist()  # -1 (padding) -> ""
    return [" ".join(row[:n]) for row, n in zip(surf, lengths.tolist())]


def realise_terms(tokens: np.ndarray, lengths: np.ndarray, words: list[str], other: list[str],
                  p_other: float, rng: np.random.Generator) -> list[str]:
    """:func:`realise`, but every token takes its word from ``other`` with probability
    ``p_other`` (a domain borrowing another domain's term; equal entries change nothing)."""
    if p_other <= 0 or words == other:
        return realise(tokens, lengths, words)
    mixed = np.where(rng.random(tokens.shape) < p_other, tokens + len(words), tokens)
    mixed[tokens < 0] = -1
    return realise(mixed, lengths, list(words) + list(other))


def domain_terms(lexicons: list[list[str]], concepts: np.ndarray, rng: np.random.Generator,
                 which: list[bool]) -> list[list[str]]:
    """Per language, a copy of its lexicon where ``concepts`` get a new word of that language
    (a domain's own terminology: the UN says ``resolution`` where Wikipedia says ``decision``);
    languages with ``which[li]`` False keep their lexicon."""
    taken = {w for lex in lexicons for w in lex}
    out = []
    for li, lex in enumerate(lexicons):
        if not which[li]:
            out.append(lex)
            continue
        # a whole new lexicon, so that a term is as long as a word of its concept's frequency
        new = _make_words(int(concepts.max()) + 1, CONSONANTS[li], rng, taken=taken)
        words = list(lex)
        for c in concepts.tolist():
            words[c] = new[c]
        out.append(words)
    return out


def _write_lines(path: Path, lines) -> Path:
    with atomic_open(path) as handle:
        handle.write("\n".join(lines))
        handle.write("\n")
    return path


def _lexicons(model: LatentModel, n_langs: int, rng: np.random.Generator,
              cognate_rate: float = 0.0) -> list[list[str]]:
    """One word per concept and language; shared concepts get the same identical form.

    With ``cognate_rate`` > 0, that share of the content concepts of every later language get a
    *cognate* of the first language's word: its stem plus an ending spelled with the later
    language's own consonants (``bakeli`` -> ``bakelisu``), never identical to a word of another
    language, but sharing character n-grams with it, as related languages do.
    """
    if n_langs > len(CONSONANTS):
        raise UserError(f"at most {len(CONSONANTS)} generated languages are supported")
    forms = _shared_forms(len(model.shared), rng)
    shared = set(model.shared.tolist())
    taken: set[str] = set(forms)
    lexicons = []
    for li in range(n_langs):
        words = _make_words(model.vocab_size, CONSONANTS[li], rng, taken=taken)
        if li > 0 and cognate_rate > 0:
            cons = CONSONANTS[li]
            for c in np.nonzero(rng.random(model.vocab_size) < cognate_rate)[0].tolist():
                if c < model.n_func or c in shared:
                    continue
                while True:
                    ending = cons[rng.integers(0, len(cons))] + VOWELS[rng.integers(0, len(VOWELS))]
                    word = lexicons[0][c] + ending
                    if word not in taken:
                        break
                taken.add(word)
                words[c] = word
        for c, form in zip(model.shared.tolist(), forms):
            words[c] = form
        lexicons.append(words)
    return lexicons


def _check_langs(langs) -> tuple[str, str]:
    langs = tuple(langs)
    if len(langs) != 2 or langs[0] == langs[1] or not all(langs):
        raise UserError(f"--langs: need two different language codes, got {langs!r}")
    for lang in langs:
        if any(ch in lang for ch in "./- \t"):
            raise UserError(f"--langs: language code {lang!r} may not contain '.', '/', '-' or spaces")
    return langs  # type: ignore[return-value]


def _rng(seed: int, *path: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), *path])


# --------------------------------------------------------------------------- cipher


@dataclass
class CipherConfig:
    """Settings of :func:`write_cipher_pair` (sizes in lines/concepts; lengths in words)."""

    langs: tuple = ("aa", "bb")
    n_train: int = 20000
    n_valid: int = 500
    n_test: int = 500
    vocab_size: int = 1000
    n_shared: int = 20
    n_topics: int = 8
    n_func: int = 20
    min_len: int = 5
    max_len: int = 12
    p_func: float = 0.25
    p_follow: float = 0.45
    seed: int = 0

    def check(self) -> CipherConfig:
        """Normalise ``langs`` to a tuple and check the values; UserError naming the flag."""
        self.langs = _check_langs(self.langs)
        for name in ("n_train", "n_valid", "n_test"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} must be at least 1")
        if not 1 <= self.min_len <= self.max_len:
            raise UserError("need 1 <= min_len <= max_len")
        return self


def write_cipher_pair(out_dir, config: CipherConfig | None = None, **fields) -> dict[str, Path]:
    """Write a word-for-word substitution-cipher language pair; return {name: path}.

    ``config`` (default :class:`CipherConfig`'s defaults) with ``fields`` (names of its fields,
    e.g. ``n_train=2000``) replacing some of its values; an unknown name is a TypeError, a bad
    value a UserError. Files: ``train.{l1}``, ``train.{l2}`` (monolingual, from disjoint latent
    sentences), ``{valid,test}.{l1}-{l2}.{l1|l2}`` (parallel), ``dict.{l1}-{l2}.txt`` (MUSE
    ``src tgt``, every non-shared concept, frequency order) and ``synthetic.json`` (config,
    seed, counts).
    """
    t0 = time.time()
    cfg = replace(config or CipherConfig(), **fields).check()
    (l1, l2), seed = cfg.langs, cfg.seed
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build_latent_model(cfg.vocab_size, cfg.n_topics, cfg.n_func, cfg.n_shared, _rng(seed, 0))
    lex = _lexicons(model, 2, _rng(seed, 1))
    mix = np.full(cfg.n_topics, 1.0 / cfg.n_topics)
    n_total = 2 * cfg.n_train + cfg.n_valid + cfg.n_test
    tokens, lengths, _ = sample_sentences(
        model, n_total, mix, model.successors, _rng(seed, 2), min_len=cfg.min_len,
        max_len=cfg.max_len, p_func=cfg.p_func, p_follow=cfg.p_follow)
    bounds = np.cumsum([0, cfg.n_train, cfg.n_train, cfg.n_valid, cfg.n_test])
    part = {name: slice(bounds[i], bounds[i + 1])
            for i, name in enumerate(("train1", "train2", "valid", "test"))}
    paths: dict[str, Path] = {}
    lines = {}
    for key, lang, li in (("train1", l1, 0), ("train2", l2, 1)):
        sl = part[key]
        lines[key] = realise(tokens[sl], lengths[sl], lex[li])
        paths[f"train.{l1 if li == 0 else l2}"] = _write_lines(out / f"train.{lang}", lines[key])
    for split in ("valid", "test"):
        sl = part[split]
        for li, lang in enumerate((l1, l2)):
            text = realise(tokens[sl], lengths[sl], lex[li])
            if li == 0:
                lines[split] = text
            name = f"{split}.{l1}-{l2}.{lang}"
            paths[name] = _write_lines(out / name, text)
    shared = set(model.shared.tolist())
    dict_name = f"dict.{l1}-{l2}.txt"
    paths[dict_name] = _write_lines(
        out / dict_name, [f"{lex[0][c]} {lex[1][c]}" for c in range(cfg.vocab_size) if c not in shared])
    train_l1 = set(lines["train1"])
    meta = {
        "kind": "synthetic", "generator": "cipher", "config": _jsonable(asdict(cfg)), "seed": seed,
        "files": {k: v.name for k, v in paths.items()},
        "counts": {
            "train_lines_per_language": cfg.n_train, "valid_lines": cfg.n_valid,
            "test_lines": cfg.n_test, "tokens": int(lengths.sum()),
            "dictionary_entries": cfg.vocab_size - len(shared),
            "valid_lines_also_in_train_l1": sum(s in train_l1 for s in lines["valid"]),
            "test_lines_also_in_train_l1": sum(s in train_l1 for s in lines["test"]),
        },
        "shared_tokens": [lex[0][c] for c in sorted(shared)],
        "seconds": round(time.time() - t0, 3),
    }
    paths["meta"] = out / "synthetic.json"
    write_json(paths["meta"], meta)
    log.info("cipher pair %s-%s: %d train lines per language, written to %s in %.1fs",
             l1, l2, cfg.n_train, out, time.time() - t0)
    return paths


def write_cipher_data(root, config: CipherConfig | None = None, **fields) -> Path:
    """A cipher pair ready for fairseq: :func:`write_cipher_pair` into ``root/raw``, binarized
    word-level (one joint dictionary of the train words, no sentencepiece) into ``root/bin`` in
    the layout of docs/design.md. Returns ``root/bin``. ``config``/``fields``: as
    :func:`write_cipher_pair` (tests and benchmarks: ``n_train``, ``n_valid``, ``vocab_size``)."""
    from .preprocess.binarize import binarize_folder

    root = Path(root)
    fields.setdefault("n_test", fields.get("n_valid", (config or CipherConfig()).n_valid))
    paths = write_cipher_pair(root / "raw", config, **fields)
    langs = tuple(name.split(".", 1)[1] for name in paths if name.startswith("train."))
    return binarize_folder(root / "raw", root / "bin", langs=langs)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


# --------------------------------------------------------------------------- mismatched


@dataclass
class MismatchedConfig:
    """Settings of :func:`write_mismatched_pair` (sizes in lines/concepts, rates in [0, 1])."""

    langs: tuple = ("aa", "bb")
    domains: tuple = ("wiki", "un")
    n_lines: int = 100000
    vocab_size: int = 3000
    n_shared: int = 100
    shared_pool: float = 0.15     # shared tokens are drawn from this top share of content concepts
    cognate_rate: float = 0.3     # share of second-language words that are cognates (see _lexicons)
    n_topics: int = 12
    n_func: int = 30
    min_len: int = 6
    max_len: int = 20
    p_func: float = 0.3
    p_follow: float = 0.4
    domain_focus: float = 0.85    # share of a domain's topic mass on its own topic group
    context_shift: float = 0.25   # share of collocations re-drawn per domain
    func_style: float = 0.5       # log-normal spread of function-word frequencies per domain
    p_swap: float = 0.05          # adjacent-word swap rate in the second language
    n_polysemous: int = 20        # second-language words that merge two concepts
    n_dict_test: int = 500
    n_dict_train: int = 1500
    min_count: int = 20           # dictionary words occur at least this often in every corpus
    n_wordsim: int = 500
    n_parallel: int = 0           # parallel valid and test sentences each, in the last domain
    term_rate: float = 0.0        # share of content concepts a later domain names by its own term
    term_leak: float = 0.05       # chance a corpus uses the other domain's term for such a concept
    term_langs: tuple = ()        # languages that have domain terms (default: every language)
    seed: int = 0
    extra: dict = field(default_factory=dict)  # kept empty (recorded in synthetic.json)

    def check(self) -> MismatchedConfig:
        """Normalise the tuples and check the values; UserError naming the flag."""
        self.langs = _check_langs(self.langs)
        self.domains = tuple(self.domains)
        if len(self.domains) < 1 or len(set(self.domains)) != len(self.domains):
            raise UserError(f"--domains: need distinct domain names, got {self.domains!r}")
        if self.extra:
            raise TypeError(f"MismatchedConfig.extra is not a setting, got {self.extra!r}")
        if self.n_lines < 1:
            raise UserError("--n-lines must be at least 1")
        self.term_langs = tuple(self.term_langs)
        if set(self.term_langs) - set(self.langs):
            raise UserError(f"--term-langs: {self.term_langs!r} are not among the languages "
                            f"{self.langs!r}")
        if self.n_topics < len(self.domains):
            raise UserError("need at least one topic per domain")
        for name in ("domain_focus", "context_shift", "p_swap", "cognate_rate", "shared_pool",
                     "p_func", "p_follow", "term_rate", "term_leak"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"--{name.replace('_', '-')} must be in [0, 1], got "
                                f"{getattr(self, name)}")
        if self.p_func + self.p_follow > 1.0 or not 1 <= self.min_len <= self.max_len:
            raise UserError("need p_func + p_follow <= 1 and 1 <= min_len <= max_len")
        return self


def _mismatched_lexicons(cfg: MismatchedConfig, model: LatentModel):
    """(lex, poly, term_c, dom_lex): the two languages' words per concept (the second with
    ``n_polysemous`` merged pairs ``poly``), the terminology concepts ``term_c`` and the lexicon
    of every domain (``dom_lex[domain][language][concept]``)."""
    (l1, l2), domains, seed = cfg.langs, cfg.domains, cfg.seed
    lex = _lexicons(model, 2, _rng(seed, 1), cognate_rate=cfg.cognate_rate)
    # polysemy: in the second language, a few concepts borrow the word of another concept
    prng = _rng(seed, 3)
    shared = set(model.shared.tolist())
    candidates = np.array([c for c in range(cfg.n_func, cfg.vocab_size) if c not in shared])
    poly = prng.choice(candidates, 2 * cfg.n_polysemous, replace=False).reshape(-1, 2)
    lex2 = list(lex[1])
    for a, b in poly.tolist():
        lex2[b] = lex2[a]
    lex = [lex[0], lex2]
    # terminology: every later domain names a share of the content concepts by its own terms
    trng = _rng(seed, 11)
    term_pool = np.array([c for c in range(cfg.n_func, cfg.vocab_size) if c not in shared])
    term_c = np.sort(trng.choice(term_pool, int(round(cfg.term_rate * len(term_pool))),
                                 replace=False))
    dom_lex = {domains[0]: lex}
    for dom in domains[1:]:
        dom_lex[dom] = domain_terms(lex, term_c, trng, [not cfg.term_langs or lang in cfg.term_langs
                                                        for lang in (l1, l2)]) if len(term_c) else lex
    return lex, poly, term_c, dom_lex


def _domain_styles(cfg: MismatchedConfig, model: LatentModel):
    """(groups, mixes, succs, funcs) per domain: topic groups, topic mixtures, collocation
    tables and function-word distributions."""
    domains, seed = cfg.domains, cfg.seed
    # domains: topic groups, mixtures, collocation tables, function-word style
    drng = _rng(seed, 4)
    groups = np.array_split(drng.permutation(cfg.n_topics), len(domains))
    mixes, succs, funcs = {}, {}, {}
    for di, dom in enumerate(domains):
        mix = np.full(cfg.n_topics, (1 - cfg.domain_focus) / cfg.n_topics)
        mix[groups[di]] += cfg.domain_focus / len(groups[di])
        mixes[dom] = mix / mix.sum()
        succs[dom] = domain_successors(model, cfg.context_shift, _rng(seed, 5, di))
        f = model.func_p * np.exp(cfg.func_style * _rng(seed, 6, di).standard_normal(cfg.n_func))
        funcs[dom] = f / f.sum()
    return groups, mixes, succs, funcs


def _write_dictionaries(out: Path, cfg: MismatchedConfig, model: LatentModel, lex, counts,
                        poly, paths: dict):
    """Write the test/train dictionaries and the word-similarity set into ``out`` (adding them
    to ``paths``); return (test concepts, train concepts, eligible concepts, word-sim pairs)."""
    (l1, l2), seed = cfg.langs, cfg.seed
    # dictionaries: concepts frequent enough in every corpus, one entry per source word
    poly_b = set(poly[:, 1].tolist())
    eligible = np.nonzero(counts.min(axis=(0, 1)) >= cfg.min_count)[0]
    eligible = np.array([c for c in eligible.tolist() if c not in poly_b and c >= cfg.n_func])
    if len(eligible) < 10:
        raise UserError(f"{out}: only {len(eligible)} concepts occur {cfg.min_count}+ times in "
                        "every corpus; raise --n-lines or lower --min-count")
    order = _rng(seed, 8).permutation(eligible)
    n_test = min(cfg.n_dict_test, len(order) // 2)
    test_c = np.sort(order[:n_test])
    train_c = np.sort(order[n_test:n_test + cfg.n_dict_train])

    def dict_lines(concepts):
        return [f"{lex[0][c]} {lex[1][c]}" for c in concepts.tolist()]

    for split, concepts in (("test", test_c), ("train", train_c)):
        name = f"dict.{l1}-{l2}.{split}.txt"
        paths[name] = _write_lines(out / name, dict_lines(concepts))
    # word similarity: pairs of test-dictionary concepts, gold from topic-profile similarity
    ws_pairs, ws_gold = _wordsim_pairs(model, test_c, cfg.n_wordsim, _rng(seed, 9))
    data_name, gold_name = f"{l1}-{l2}.test.data.txt", f"{l1}-{l2}.test.gold.txt"
    paths[data_name] = _write_lines(out / data_name,
                                    [f"{lex[0][a]}\t{lex[1][b]}" for a, b in ws_pairs])
    paths[gold_name] = _write_lines(out / gold_name, [f"{g:.1f}" for g in ws_gold])
    return test_c, train_c, eligible, ws_pairs


def write_mismatched_pair(out_dir, config: MismatchedConfig | None = None,
                          **fields) -> dict[str, Path]:
    """Write a two-language, multi-domain corpus family with gold dictionaries; return paths.

    Files (``l1-l2`` in the given order): ``{lang}.{domain}.txt`` for every language and domain
    (``n_lines`` each, independent latent sentences, never parallel), ``dict.{l1}-{l2}.test.txt``
    and ``dict.{l1}-{l2}.train.txt`` (MUSE ``src tgt``; disjoint source words, every word occurs
    at least ``min_count`` times in every corpus), ``{l1}-{l2}.test.data.txt`` (``w1<TAB>w2``) and
    ``{l1}-{l2}.test.gold.txt`` (one 0-4 score per line; SemEval-2017 Task 2 subtask 2 layout),
    with ``n_parallel > 0`` parallel ``{valid,test}.{l1}-{l2}.{lang}`` sets of the last domain,
    and ``synthetic.json`` (config, seed, topic mixtures, counts, file names).
    ``config`` (default :class:`MismatchedConfig`'s defaults) with ``fields`` (names of its
    fields, e.g. ``n_lines=4000``) replacing some of its values; an unknown name is a TypeError,
    a bad value a UserError (:meth:`MismatchedConfig.check`).
    """
    t0 = time.time()
    cfg = replace(config or MismatchedConfig(), **fields).check()
    (l1, l2), domains, seed = cfg.langs, cfg.domains, cfg.seed
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = build_latent_model(cfg.vocab_size, cfg.n_topics, cfg.n_func, cfg.n_shared, _rng(seed, 0),
                               shared_pool=cfg.shared_pool)
    lex, poly, term_c, dom_lex = _mismatched_lexicons(cfg, model)

    def realise_in(dom, li, tokens, lengths, rng):
        """Text of language ``li`` in domain ``dom``: its terms, another domain's w.p. leak."""
        other = dom_lex[domains[-1] if dom == domains[0] else domains[0]][li]
        return realise_terms(tokens, lengths, dom_lex[dom][li], other, cfg.term_leak, rng)

    groups, mixes, succs, funcs = _domain_styles(cfg, model)
    paths: dict[str, Path] = {}
    counts = np.zeros((2, len(domains), cfg.vocab_size), dtype=np.int64)
    n_tokens = {}
    for li, lang in enumerate((l1, l2)):
        for di, dom in enumerate(domains):
            rng = _rng(seed, 7, li, di)
            tokens, lengths, _ = sample_sentences(
                model, cfg.n_lines, mixes[dom], succs[dom], rng, min_len=cfg.min_len,
                max_len=cfg.max_len, p_func=cfg.p_func, p_follow=cfg.p_follow, func_p=funcs[dom])
            counts[li, di] = np.bincount(tokens[tokens >= 0], minlength=cfg.vocab_size)
            if li == 1:
                tokens = swap_noise(tokens, lengths, cfg.p_swap, rng)
            name = f"{lang}.{dom}.txt"
            paths[name] = _write_lines(out / name, realise_in(dom, li, tokens, lengths, rng))
            n_tokens[name] = int(lengths.sum())
    test_c, train_c, eligible, ws_pairs = _write_dictionaries(out, cfg, model, lex, counts, poly,
                                                              paths)
    # parallel dev/test sets (for UNMT BLEU), in the last domain (the paper's UN dev sets): the
    # same latent sentences realised in both languages, drawn independently of the training data
    if cfg.n_parallel > 0:
        dom = domains[-1]
        prng = _rng(seed, 10)
        tokens, lengths, _ = sample_sentences(
            model, 2 * cfg.n_parallel, mixes[dom], succs[dom], prng, min_len=cfg.min_len,
            max_len=cfg.max_len, p_func=cfg.p_func, p_follow=cfg.p_follow, func_p=funcs[dom])
        sides = (realise_in(dom, 0, tokens, lengths, prng),
                 realise_in(dom, 1, swap_noise(tokens, lengths, cfg.p_swap, prng), lengths, prng))
        for split, part in (("valid", slice(0, cfg.n_parallel)),
                            ("test", slice(cfg.n_parallel, 2 * cfg.n_parallel))):
            for lang, lines in zip((l1, l2), sides):
                name = f"{split}.{l1}-{l2}.{lang}"
                paths[name] = _write_lines(out / name, lines[part])
    meta = {
        "kind": "synthetic", "generator": "mismatched", "config": _jsonable(asdict(cfg)),
        "seed": seed, "files": {k: v.name for k, v in paths.items()},
        "topic_mixtures": {d: [round(float(x), 6) for x in m] for d, m in mixes.items()},
        "topic_groups": {d: sorted(int(k) for k in g) for d, g in zip(domains, groups)},
        "counts": {"tokens": n_tokens, "dict_test": int(len(test_c)),
                   "dict_train": int(len(train_c)), "dict_eligible": int(len(eligible)),
                   "wordsim_pairs": len(ws_pairs)},
        "shared_tokens": [lex[0][c] for c in sorted(set(model.shared.tolist()))],
        "polysemous_tokens": sorted({lex[1][a] for a, _ in poly.tolist()}),
        # [first-domain word, this domain's term] per concept (a polysemous word can have two)
        "domain_terms": {dom: {lang: [[lex[li][c], dom_lex[dom][li][c]] for c in term_c.tolist()
                                      if dom_lex[dom][li][c] != lex[li][c]]
                               for li, lang in enumerate((l1, l2))} for dom in domains[1:]},
        "seconds": round(time.time() - t0, 3),
    }
    paths["meta"] = out / "synthetic.json"
    write_json(paths["meta"], meta)
    log.info("mismatched family %s x %s: %d lines per corpus, written to %s in %.1fs",
             (l1, l2), domains, cfg.n_lines, out, time.time() - t0)
    return paths


def concept_similarity(model: LatentModel, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of the topic profiles of concepts ``a`` and ``b`` (elementwise), in [0, 1]."""
    ta, tb = model.theta[a], model.theta[b]
    return (ta * tb).sum(1) / (np.linalg.norm(ta, axis=1) * np.linalg.norm(tb, axis=1))


def _wordsim_pairs(model: LatentModel, concepts: np.ndarray, n: int, rng: np.random.Generator):
    """Cross-lingual pairs with gold 0-4 (step 0.5): 10% translations (4.0), 45% pairs sharing
    a dominant topic, 45% random pairs; gold of a non-translation = 8 * cosine rounded / 2,
    capped at 3.5."""
    concepts = np.asarray(concepts)
    dom = model.theta[concepts].argmax(1)
    n_same = max(1, n // 10)
    n_topic = (n - n_same) // 2
    n_rand = n - n_same - n_topic
    a_same = rng.choice(concepts, n_same, replace=len(concepts) < n_same)
    a_topic = rng.choice(len(concepts), n_topic)
    b_topic = np.empty(n_topic, dtype=np.int64)
    for i, ai in enumerate(a_topic.tolist()):
        peers = np.nonzero(dom == dom[ai])[0]
        b_topic[i] = peers[rng.integers(0, len(peers))]
    a_rand = rng.choice(len(concepts), n_rand)
    b_rand = rng.choice(len(concepts), n_rand)
    a = np.concatenate([a_same, concepts[a_topic], concepts[a_rand]])
    b = np.concatenate([a_same, concepts[b_topic], concepts[b_rand]])
    sim = concept_similarity(model, a, b)
    gold = np.minimum(np.round(sim * 8) / 2, 3.5)
    gold[a == b] = 4.0
    perm = rng.permutation(n)
    return list(zip(a[perm].tolist(), b[perm].tolist())), gold[perm].tolist()


# --------------------------------------------------------------------------- CLI


#: help of every generator flag (field name -> text); the defaults come from the configs
_HELP = {
    "n_train": "monolingual training sentences per language",
    "n_valid": "parallel validation sentences",
    "n_test": "parallel test sentences",
    "n_lines": "lines per corpus (language x domain)",
    "vocab_size": "latent concepts (words per language)",
    "n_shared": "concepts written the same in both languages (numbers, names)",
    "n_topics": "latent topics (split into one group per domain)",
    "min_len": "shortest sentence, in words",
    "max_len": "longest sentence, in words",
    "n_polysemous": "second-language words that merge two concepts",
    "n_dict_test": "pairs of the gold test dictionary",
    "n_dict_train": "pairs of the gold training dictionary",
    "min_count": "dictionary words occur at least this often in every corpus",
    "n_wordsim": "pairs of the word-similarity set",
    "n_parallel": "parallel valid and test sentences each, in the last domain (0: none)",
    "seed": "random seed (same seed and settings: same files)",
    "domain_focus": "share of a domain's topic mass on its own topic group, in [0, 1]",
    "context_shift": "share of collocations re-drawn per domain, in [0, 1]",
    "p_swap": "adjacent-word swap rate in the second language, in [0, 1]",
    "func_style": "log-normal spread of function-word frequencies per domain",
    "cognate_rate": "share of second-language words that are cognates, in [0, 1]",
    "shared_pool": "shared tokens are drawn from this top share of content concepts, in [0, 1]",
    "term_rate": "share of content concepts a later domain names by a term of its own, in [0, 1]",
    "term_leak": "chance that a corpus uses the other domain's term for such a concept, in [0, 1]",
}


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="xdomain-synth", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("cipher", help="word-for-word substitution cipher pair (UNMT benchmark)")
    c.add_argument("--out", required=True, help="output folder")
    c.add_argument("--langs", default="aa,bb", help="two codes, comma-separated (default aa,bb)")
    for name, default in (("n_train", 20000), ("n_valid", 500), ("n_test", 500),
                          ("vocab_size", 1000), ("n_shared", 20), ("min_len", 5), ("max_len", 12),
                          ("seed", 0)):
        c.add_argument("--" + name.replace("_", "-"), type=int, default=default, help=_HELP[name])
    m = sub.add_parser("mismatched", help="two languages x two domains with gold dictionaries")
    m.add_argument("--out", required=True, help="output folder")
    m.add_argument("--langs", default="aa,bb", help="two language codes, comma-separated")
    m.add_argument("--domains", default="wiki,un",
                   help="domain names, comma-separated: one corpus per language and domain")
    defaults = MismatchedConfig()
    for name in ("n_lines", "vocab_size", "n_shared", "n_topics", "min_len", "max_len",
                 "n_polysemous", "n_dict_test", "n_dict_train", "min_count", "n_wordsim", "n_parallel",
                 "seed"):
        m.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(defaults, name),
                       help=_HELP[name])
    for name in ("domain_focus", "context_shift", "p_swap", "func_style", "cognate_rate",
                 "shared_pool", "term_rate", "term_leak"):
        m.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(defaults, name),
                       help=_HELP[name])
    m.add_argument("--term-langs", default="",
                   help="languages whose later domains have their own terms (comma-separated; "
                        "default: every language); see --term-rate")
    return p


@cli_entry
def main(argv=None) -> int:
    setup_logging()
    args = _parser().parse_args(argv)
    kw = {k: v for k, v in vars(args).items() if k not in ("cmd", "out", "langs", "domains")}
    if "term_langs" in kw:
        kw["term_langs"] = tuple(x.strip() for x in kw["term_langs"].split(",") if x.strip())
    langs = tuple(x.strip() for x in args.langs.split(","))
    if args.cmd == "cipher":
        paths = write_cipher_pair(args.out, langs=langs, **kw)
    else:
        domains = tuple(x.strip() for x in args.domains.split(","))
        paths = write_mismatched_pair(args.out, langs=langs, domains=domains, **kw)
    for name, path in paths.items():
        print(f"{name}\t{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

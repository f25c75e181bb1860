"""``xdomain-prep pipeline``: steps 1-6 for a language pair from one YAML/JSON config, resumable.

Every step (``sample.en``, ``tokenize.en``, ``concat``, ``spm.train``, ``spm.apply.en``,
``binarize``, ...) runs through :class:`fairseq_xdomain.steps.Runner`: a stamp
``WORK/.stamps/STEP.json`` keyed on the step's parameters, the sha256 of its inputs and the package
version, outputs checked by sha256; a step whose key or outputs changed runs again, and so does
every later step whose inputs changed as a result. Outputs are written under temporary names and
renamed, so a killed run leaves no half-written file under a final name and the next run resumes
after the last finished step (temporary files it left are removed first). Parameters that do not
change results (``workers``, ``threads``) are not part of the key.

``vocab_corpora`` (optional) lists more corpora of the pair's languages that the sentencepiece
model is also trained on (sampled, tokenized and encoded to ``WORK/{lang}.{domain}.spm.txt``, not
binarized): the corpora of a baseline model that has to share this one vocabulary.

Parallel dev/test files (``parallel``) are read in lockstep once, by the first step of each split
(``align.SPLIT``, :func:`preprocess.binarize.write_aligned`): a pair with invalid UTF-8 on either
side is dropped on both sides (``on_bad_utf8: skip``, the default) or kept with U+FFFD
(``replace``), and counted (log + manifest ``parallel``); the later steps (tokenize, spm apply,
binarize) map line ``i`` to line ``i`` of these clean, aligned copies, so pairs are never shifted.

The config's schema is :class:`PipelineConfig` (dataclasses, checked by OmegaConf: unknown keys
and wrong types are one-line errors naming the key); :func:`load_config` returns it as a plain
dict with paths made absolute.

``DATA/manifest.json`` (+ ``manifest.md``) records the config, the inputs (size, sha256), the
seeds, each step (ran/skipped, parameters, counts, seconds) and every output (size, sha256).
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import get_type_hints

from omegaconf import MISSING

from fairseq_xdomain.common.atomic import write_json, write_text
from fairseq_xdomain.common.errors import UserError
from fairseq_xdomain.common.markdown import table
from fairseq_xdomain.common.textio import BAD_UTF8_POLICIES, read_text, require_file
from fairseq_xdomain.steps import Runner, clean_stale_temps

logger = logging.getLogger("xdomain-prep.pipeline")


# ----------------------------------------------------------------------------- config
# The schema of a pipeline config: OmegaConf checks the keys and types (one-line errors naming
# the key, see _omegaconf_error); load_config checks what a type cannot say and resolves paths.
# A step's seed (``sample.seed``, ``spm.seed``) defaults to the top-level ``seed``.

_INHERITS_SEED = {"inherits": "seed"}


@dataclass
class SampleConfig:
    n: int = 5_000_000
    drop_empty: bool = True
    dedup: bool = False
    seed: int | None = field(default=None, metadata=_INHERITS_SEED)


@dataclass
class TokenizeConfig:
    lowercase: bool = False
    workers: int = 0
    escape: bool = False


@dataclass
class ConcatConfig:
    mode: str = "interleave"


@dataclass
class SpmConfig:
    model_type: str = "bpe"
    vocab_size: int = 32000
    character_coverage: float = 1.0
    max_sentences: int = 2_000_000
    max_sentence_length: int = 4192  # bytes
    threads: int = 0
    seed: int | None = field(default=None, metadata=_INHERITS_SEED)


@dataclass
class BinarizeConfig:
    workers: int = 1


@dataclass
class CorpusConfig:
    lang: str = MISSING
    domain: str = MISSING
    train: str = MISSING
    valid: str | None = None
    # Moses rules to tokenize with (default: the corpus language); lets a language without
    # Moses rules (or generated data) be tokenized with another language's rules
    tokenizer: str | None = None


@dataclass
class VocabCorpusConfig:
    lang: str = MISSING
    domain: str = MISSING
    train: str = MISSING


@dataclass
class PipelineConfig:
    seed: int = 0
    on_bad_utf8: str = "skip"
    sample: SampleConfig = field(default_factory=SampleConfig)
    tokenize: TokenizeConfig = field(default_factory=TokenizeConfig)
    lemmatize: list[str] = field(default_factory=list)
    concat: ConcatConfig = field(default_factory=ConcatConfig)
    spm: SpmConfig = field(default_factory=SpmConfig)
    binarize: BinarizeConfig = field(default_factory=BinarizeConfig)
    output: str = MISSING
    work_dir: str | None = None
    corpora: list[CorpusConfig] = MISSING
    # more text the sentencepiece model is trained on (sampled, tokenized and encoded like the
    # pair, not binarized): e.g. a baseline's corpora that must share this vocabulary
    vocab_corpora: list[VocabCorpusConfig] = field(default_factory=list)
    parallel: dict[str, dict[str, str]] = field(default_factory=dict)


def _known(schema) -> str:
    return ", ".join(sorted(f.name for f in fields(schema) if not f.metadata.get("inherits")))


def _sections() -> dict:
    """{section dataclass: (its key in PipelineConfig, True for a list of them)}."""
    out = {}
    for name, hint in get_type_hints(PipelineConfig).items():
        for schema in (hint, *getattr(hint, "__args__", ())):
            if is_dataclass(schema):
                out[schema] = (name, schema is not hint)
    return out


def _omegaconf_error(path, err) -> UserError:
    """One line naming the key, for an OmegaConf error (unknown key, wrong type)."""
    from omegaconf.errors import ConfigKeyError

    full_key = str(getattr(err, "full_key", "") or "")
    schema = getattr(err, "object_type", None)
    if isinstance(err, ConfigKeyError) and full_key:
        key = full_key.rpartition(".")[2]
        if schema is PipelineConfig:
            return UserError(f"{path}: unknown config key(s) {key} (known: "
                             f"{_known(PipelineConfig)})")
        section = _sections().get(schema, ("?", False))[0]
        return UserError(f"{path}: unknown key(s) under '{section}': {key} "
                         f"(known: {_known(schema)})")
    msg = str(err).splitlines()[0] if str(err) else type(err).__name__
    return UserError(f"{path}: {full_key}: {msg}" if full_key else f"{path}: {msg}")


def _structured(path, raw: dict) -> dict:
    """``raw`` merged onto :class:`PipelineConfig` (checked by OmegaConf) as plain containers;
    mandatory keys left out stay ``'???'``."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    raw = {key: value for key, value in raw.items() if value is not None}  # null: the default
    if isinstance(raw.get("lemmatize"), str):
        raw["lemmatize"] = [raw["lemmatize"]]
    for name, is_list in _sections().values():  # OmegaConf's own message names no key here
        values = raw.get(name) if is_list else [raw.get(name, {})]
        if isinstance(values, list) and not all(isinstance(v, dict) for v in values):
            what = f"every '{name}' entry" if is_list else f"'{name}'"
            raise UserError(f"{path}: {what} must be a mapping")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(PipelineConfig), raw)
        return OmegaConf.to_container(merged, throw_on_missing=False)
    except OmegaConfBaseException as err:
        raise _omegaconf_error(path, err) from None


def load_config(path) -> dict:
    """Read, check and complete a pipeline config; paths become absolute (relative to it).

    Returns a plain dict with every key of :class:`PipelineConfig` (a step's ``seed`` only
    where the config gives one). Errors are UserErrors of one line naming the key.
    """
    text = read_text(path, what="pipeline config")
    try:
        if str(path).endswith(".json"):
            raw = json.loads(text)
        else:
            import yaml

            raw = yaml.safe_load(text)
    except Exception as err:  # noqa: BLE001 - any parse error is the user's
        msg = str(err).replace("\n", " ")
        raise UserError(f"{path}: cannot parse the config: {msg}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: the config must be a mapping (YAML or JSON object)")
    cfg = _structured(path, raw)
    base = Path(path).resolve().parent

    def resolve(p) -> str:
        return str((base / os.path.expanduser(p)).resolve())

    for key in ("sample", "spm"):
        if cfg[key]["seed"] is None:
            del cfg[key]["seed"]  # the top-level seed (and a stamp key as before)
    if cfg["on_bad_utf8"] not in BAD_UTF8_POLICIES:
        raise UserError(f"{path}: on_bad_utf8 must be one of {', '.join(BAD_UTF8_POLICIES)}")
    if cfg["output"] in (MISSING, ""):
        raise UserError(f"{path}: missing 'output' (the binarized data folder)")
    cfg["output"] = resolve(cfg["output"])
    cfg["work_dir"] = resolve(cfg["work_dir"]) if cfg["work_dir"] else cfg["output"] + ".work"
    if not isinstance(cfg["corpora"], list) or len(cfg["corpora"]) != 2:
        raise UserError(f"{path}: 'corpora' must list exactly two corpora (a language pair)")
    for corpus in cfg["corpora"]:
        if MISSING in (corpus["lang"], corpus["domain"], corpus["train"]):
            raise UserError(f"{path}: each corpus needs lang, domain and train")
        corpus["train"] = resolve(corpus["train"])
        if corpus["valid"]:
            corpus["valid"] = resolve(corpus["valid"])
        else:
            del corpus["valid"]
        corpus["tokenizer"] = corpus.pop("tokenizer") or corpus["lang"]
    langs = [c["lang"] for c in cfg["corpora"]]
    if langs[0] == langs[1]:
        raise UserError(f"{path}: the two corpora must have different languages, got {langs}")
    seen = [f"{c['lang']}.{c['domain']}" for c in cfg["corpora"]]
    for entry in cfg["vocab_corpora"]:
        if MISSING in entry.values():
            raise UserError(f"{path}: each vocab_corpora entry needs exactly lang, domain and train")
        if entry["lang"] not in langs:
            raise UserError(f"{path}: vocab_corpora language '{entry['lang']}' is not one of {langs}")
        if f"{entry['lang']}.{entry['domain']}" in seen:
            raise UserError(f"{path}: vocab_corpora repeats {entry['lang']}.{entry['domain']}")
        if entry["domain"] == "valid":  # {lang}.valid names a corpus' held-out text already
            raise UserError(f"{path}: vocab_corpora domain may not be '{entry['domain']}'")
        seen.append(f"{entry['lang']}.{entry['domain']}")
        entry["train"] = resolve(entry["train"])
    for split, files in cfg["parallel"].items():
        if split not in ("valid", "test"):
            raise UserError(f"{path}: parallel split must be valid or test, got '{split}'")
        if sorted(files) != sorted(langs):
            raise UserError(f"{path}: parallel {split} must give one file for each of {langs}")
        cfg["parallel"][split] = {lang: resolve(files[lang]) for lang in langs}
    if cfg["sample"]["n"] <= 0:
        raise UserError(f"{path}: sample.n must be a positive integer, got {cfg['sample']['n']!r}")
    msl = cfg["spm"]["max_sentence_length"]
    if msl <= 0:
        raise UserError(f"{path}: spm.max_sentence_length must be a positive number of bytes, "
                        f"got {msl!r}")
    return cfg


# ----------------------------------------------------------------------------- pipeline

def run_pipeline(config_path, force: bool = False, plan: bool = False) -> dict:
    """Run every step of the config; write DATA/manifest.json; return the manifest. With
    ``plan``: check the config and inputs, run nothing, estimate each step
    (:mod:`.plan`) into WORK/plan.json; return that plan."""
    from . import binarize as binarize_mod
    from . import concat as concat_mod
    from . import lemmatize as lemmatize_mod
    from . import sample as sample_mod
    from . import spm as spm_mod
    from . import tokenize as tokenize_mod

    cfg = load_config(config_path)
    out_dir, work = Path(cfg["output"]), Path(cfg["work_dir"])
    seed, utf8 = cfg["seed"], cfg["on_bad_utf8"]
    utf8_hint = f"set on_bad_utf8: skip or replace in {config_path}"
    langs = [c["lang"] for c in cfg["corpora"]]
    for corpus in cfg["corpora"]:
        tokenize_mod.check_lang(corpus["tokenizer"], corpus["train"])
        for key in ("train", "valid"):
            if key in corpus:
                require_file(corpus[key])
    for files in cfg["parallel"].values():
        for path in files.values():
            require_file(path)
    for corpus in cfg["vocab_corpora"]:
        require_file(corpus["train"])
    for lang in cfg["lemmatize"]:
        if lang not in langs:
            raise UserError(f"{config_path}: lemmatize lists '{lang}', not a corpus language")
        if lang not in lemmatize_mod.SUPPORTED_LEMMA_LANGS:
            raise UserError(f"{config_path}: cannot lemmatize '{lang}' (supported: "
                            f"{', '.join(lemmatize_mod.SUPPORTED_LEMMA_LANGS)})")
    # one run owns the work and output folders (locked here, before the clean-up below)
    if plan:
        from ..planning import PlanRunner

        runner = PlanRunner(work, force=force)
    else:
        runner = Runner(work, force=force, progress=logger.info, owns=[out_dir])
        clean_stale_temps(work, out_dir)
    started = time.time()

    sample_params = {**cfg["sample"], "seed": cfg["sample"].get("seed", seed),
                     "on_bad_utf8": utf8}
    tok_params = {**cfg["tokenize"], "on_bad_utf8": utf8}
    texts: dict[str, str] = {}  # name (en, en.valid, valid.en, ...) -> final text file

    tokenizers = {c["lang"]: c["tokenizer"] for c in cfg["corpora"]}

    def text_steps(lang: str, name: str, source: str) -> None:
        tok = str(work / f"{name}.tok.txt")
        rules = tokenizers[lang]
        runner.step(f"tokenize.{name}", [source], {**tok_params, "lang": rules},
                    lambda: ([tok], tokenize_mod.tokenize_file(
                        source, tok, rules, lowercase=tok_params["lowercase"],
                        workers=tok_params["workers"], escape=tok_params["escape"],
                        on_bad_utf8=utf8, hint=utf8_hint)))
        final = tok
        if lang in cfg["lemmatize"]:
            lem = str(work / f"{name}.lem.txt")
            runner.step(f"lemmatize.{name}", [tok], {"lang": lang},
                        lambda: ([lem], lemmatize_mod.lemmatize_file(tok, lem, lang)))
            final = lem
        texts[name] = final

    def sample_step(name: str, source: str) -> str:
        """``sample.NAME``: the seeded sample of ``source`` -> ``WORK/NAME.sample.txt``."""
        sampled = str(work / f"{name}.sample.txt")
        runner.step(f"sample.{name}", [source], sample_params,
                    lambda: ([sampled], sample_mod.sample_file(
                        source, sampled, sample_params["n"], seed=sample_params["seed"],
                        drop_empty=sample_params["drop_empty"], dedup=sample_params["dedup"],
                        on_bad_utf8=utf8, hint=utf8_hint)))
        return sampled

    for corpus in cfg["corpora"]:
        lang = corpus["lang"]
        text_steps(lang, lang, sample_step(lang, corpus["train"]))
        if "valid" in corpus:
            text_steps(lang, f"{lang}.valid", corpus["valid"])
    for split, files in sorted(cfg["parallel"].items()):
        aligned = {lang: str(work / f"{split}.{lang}.aligned.txt") for lang in langs}
        runner.step(f"align.{split}", [files[lang] for lang in langs], {"on_bad_utf8": utf8},
                    lambda f=files, a=aligned: (list(a.values()), binarize_mod.write_aligned(
                        {lang: f[lang] for lang in langs}, a, on_bad_utf8=utf8,
                        hint=utf8_hint)))
        for lang in langs:
            text_steps(lang, f"{split}.{lang}", aligned[lang])
    vocab_texts = []
    for corpus in cfg["vocab_corpora"]:
        name = f"{corpus['lang']}.{corpus['domain']}"
        text_steps(corpus["lang"], name, sample_step(name, corpus["train"]))
        vocab_texts.append(texts[name])

    joint = str(work / "joint.txt")
    tags = [f"{c['lang']}.{c['domain']}" for c in cfg["corpora"]]
    runner.step("concat", [texts[lang] for lang in langs], {**cfg["concat"], "tags": tags},
                lambda: ([joint, concat_mod.origin_path(joint)], concat_mod.concat_files(
                    [texts[lang] for lang in langs], tags, joint, mode=cfg["concat"]["mode"])))

    spm_params = {**cfg["spm"], "seed": cfg["spm"].get("seed", seed)}
    prefix = str(work / "spm")
    runner.step("spm.train", [joint, *vocab_texts], spm_params,
                lambda: ([prefix + ".model", prefix + ".vocab"], spm_mod.train_spm(
                    [joint, *vocab_texts], prefix, vocab_size=spm_params["vocab_size"],
                    model_type=spm_params["model_type"],
                    character_coverage=spm_params["character_coverage"],
                    max_sentences=spm_params["max_sentences"], seed=spm_params["seed"],
                    threads=spm_params["threads"] or None,
                    max_sentence_length=spm_params["max_sentence_length"],
                    length_option=f"spm: {{max_sentence_length: N}} in {config_path}")))
    encoded: dict[str, str] = {}
    for name, text in texts.items():
        enc = str(work / f"{name}.spm.txt")
        runner.step(f"spm.apply.{name}", [text, prefix + ".model"], {},
                    lambda t=text, e=enc: ([e], spm_mod.apply_spm(t, e, prefix + ".model")))
        encoded[name] = enc

    train = {lang: encoded[lang] for lang in langs}
    valid = {c["lang"]: encoded[f"{c['lang']}.valid"] for c in cfg["corpora"] if "valid" in c}
    parallel = {split: {lang: encoded[f"{split}.{lang}"] for lang in langs}
                for split in cfg["parallel"]}
    bin_inputs = [prefix + ".model", prefix + ".vocab", *train.values(), *valid.values(),
                  *[p for files in parallel.values() for p in files.values()]]
    bin_params = {**cfg["binarize"], "train": sorted(train), "valid": sorted(valid),
                  "parallel": sorted(parallel)}

    def do_binarize():
        result = binarize_mod.binarize(out_dir, prefix + ".model", train, valid=valid,
                                       parallel=parallel, workers=cfg["binarize"]["workers"],
                                       on_bad_utf8=utf8, hint=utf8_hint)
        return [str(out_dir / f) for f in result["files"]], result

    runner.step("binarize", bin_inputs, bin_params, do_binarize, outputs=[out_dir])
    if plan:
        from .plan import plan_pipeline

        return plan_pipeline(cfg, runner.records, work,
                             f"xdomain-prep pipeline --config {config_path}").to_dict()

    manifest = _manifest(cfg, config_path, runner, time.time() - started)
    write_json(out_dir / "manifest.json", manifest)
    write_text(out_dir / "manifest.md", _manifest_markdown(manifest))
    ran = [r["step"] for r in runner.records if r["status"] == "ran"]
    logger.info("pipeline done: %d step(s) ran, %d skipped; data in %s (manifest.json)",
                len(ran), len(runner.records) - len(ran), out_dir)
    return manifest


def _manifest(cfg: dict, config_path, runner: Runner, seconds: float) -> dict:
    sha = runner.sha
    inputs = []
    for corpus in cfg["corpora"]:
        for key in ("train", "valid"):
            if key in corpus:
                inputs.append({"role": f"{corpus['lang']}.{corpus['domain']}.{key}",
                               **sha.describe(corpus[key])})
    for split, files in sorted(cfg["parallel"].items()):
        for lang, path in files.items():
            inputs.append({"role": f"parallel.{split}.{lang}", **sha.describe(path)})
    for corpus in cfg["vocab_corpora"]:
        inputs.append({"role": f"{corpus['lang']}.{corpus['domain']}.vocab",
                       **sha.describe(corpus["train"])})
    parallel = {r["step"].split(".", 1)[1]: r["counts"] for r in runner.records
                if r["step"].startswith("align.")}
    out_dir = Path(cfg["output"])
    binarize = next(r for r in runner.records if r["step"] == "binarize")
    outputs = [{**o, "path": os.path.relpath(o["path"], out_dir)} for o in binarize["outputs"]]
    sha.save()
    return {
        "tool": "xdomain-prep pipeline",
        "config_file": str(Path(config_path).resolve()),
        "config": cfg,
        "seeds": {"sample": cfg["sample"].get("seed", cfg["seed"]),
                  "spm": cfg["spm"].get("seed", cfg["seed"])},
        "inputs": inputs,
        "parallel": parallel,
        "steps": [{k: r[k] for k in ("step", "status", "params", "counts", "seconds", "inputs",
                                      "outputs") if k in r} for r in runner.records],
        "outputs": outputs,
        "work_dir": cfg["work_dir"],
        "seconds": round(seconds, 3),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _manifest_markdown(manifest: dict) -> str:
    lines = [f"# Preprocessing manifest ({manifest['finished_at']})", "",
             f"config: `{manifest['config_file']}`; seeds: sample={manifest['seeds']['sample']}, "
             f"spm={manifest['seeds']['spm']}", "", "## Inputs", ""]
    lines += table(["role", "file", "size", "sha256"],
                   [[item["role"], f"`{item['path']}`", item["size"], f"`{item['sha256'][:16]}`"]
                    for item in manifest["inputs"]], align="llr")
    steps = []
    for step in manifest["steps"]:
        counts = step.get("counts") or {}
        short = ", ".join(f"{k}={v}" for k, v in counts.items()
                          if isinstance(v, (int, float, str)) and k != "files")
        steps.append([step["step"], step["status"], step.get("seconds", ""), short])
    lines += ["", "## Steps", ""]
    lines += table(["step", "status", "seconds", "counts"], steps, align="llr")
    lines += ["", "## Outputs", ""]
    lines += table(["file", "size", "sha256"],
                   [[f"`{item['path']}`", item["size"], f"`{item['sha256'][:16]}`"]
                    for item in manifest["outputs"]], align="lr")
    return "\n".join(lines) + "\n"

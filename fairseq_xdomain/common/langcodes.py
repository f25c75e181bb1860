"""One rule for language codes, from the first step to the last.

A language code is what the user gives with ``--langs``, ``--train LANG=FILE``, ``--direction``,
``--source-lang``: letters, digits, ``-`` and ``_`` (``en``, ``pt-BR``, ``zh_Hans``, ``EN``), the
first character a letter. The code is kept verbatim (case and all) in file names and checkpoint
``langs``, so ``EN`` and ``en`` are two different languages to every tool, as they are to
``xdomain-prep binarize``. Where a language's *rules* are looked up (sacrebleu's tokenizer, the
word tokenizer's rules) the base language is used: the part before the first ``-``/``_``, lower
case (``pt-BR`` -> ``pt``, ``zh_Hans`` -> ``zh``; BCP 47 / ISO 639-1).

A direction ``SRC-TGT`` is split against the known languages (a checkpoint's or ``--langs``), so
``pt-BR-en`` is ``(pt-BR, en)``: a hyphen inside a code never breaks it.
"""
from __future__ import annotations

import re

from .errors import UserError

#: a language code: a letter, then letters, digits, '-' or '_'
CODE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def check_code(code: str, where: str = "language code") -> str:
    """``code`` if it follows the rule (module docstring), else UserError naming ``where``."""
    if not isinstance(code, str) or not CODE_RE.fullmatch(code) or code.endswith(("-", "_")):
        raise UserError(f"{where}: {code!r} is not a language code (letters, digits, '-' or '_', "
                        "starting with a letter: en, pt-BR, zh_Hans)")
    return code


def base_language(code: str) -> str:
    """The base language of ``code``, lower case: ``pt-BR`` -> ``pt``, ``zh_Hans`` -> ``zh``."""
    return re.split(r"[-_]", code, maxsplit=1)[0].lower()


def split_direction(direction: str, langs, flag: str = "--direction") -> tuple[str, str]:
    """``SRC-TGT`` -> ``(SRC, TGT)``, both in ``langs`` (codes may contain ``-``).

    UserError when no split gives two known languages (naming ``langs``), or when several do.
    """
    langs = list(langs)
    splits = [(direction[:i], direction[i + 1:]) for i, ch in enumerate(direction) if ch == "-"]
    known = [(s, t) for s, t in splits if s in langs and t in langs and s != t]
    if len(known) == 1:
        return known[0]
    if not known:
        raise UserError(f"{flag} {direction!r}: expected SRC-TGT with SRC and TGT two of the "
                        f"languages {', '.join(langs)}")
    raise UserError(f"{flag} {direction!r}: ambiguous with the languages {', '.join(langs)}")

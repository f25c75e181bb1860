"""What the plugin's text tasks share: ``--langs`` parsing (the language order gives the ids)
and a base task with one dictionary for source and target whose validation is traced per rank
(``XDOMAIN_RANK_TRACE``, see ``distributed.py``)."""
from __future__ import annotations

from fairseq.tasks import FairseqTask

from ..common.errors import UserError
from ..distributed import param_digest, rank_trace, tracing


def parse_langs(langs: str, minimum: int = 1) -> list[str]:
    """``"en,fr"`` -> ``["en", "fr"]`` (spaces and empty items dropped; id = position).

    Raises UserError for fewer than ``minimum`` languages or a language named twice.
    """
    out = [lang.strip() for lang in str(langs).split(",") if lang.strip()]
    if len(set(out)) != len(out):
        raise UserError(f"--langs: duplicate language in {langs!r}")
    if len(out) < minimum:
        need = "one language" if minimum == 1 else f"{minimum} distinct languages"
        raise UserError(f"--langs: give at least {need}, e.g. --langs en,fr (got {langs!r})")
    return out


class JointDictionaryTask(FairseqTask):
    """A task whose source and target share ``self.dictionary``; each ``begin_valid_epoch`` is
    traced per rank (epoch, parameter digest, update count from ``self._last_update``)."""

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary

    def begin_valid_epoch(self, epoch, model):
        super().begin_valid_epoch(epoch, model)
        if tracing():
            rank_trace("valid", epoch=int(epoch), params=param_digest(model),
                       after_update=getattr(self, "_last_update", -1) + 1)

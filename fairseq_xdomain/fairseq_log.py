"""Reading fairseq's own logs: the validation lines of a ``--log-format simple`` log (its
stdout, ``... | INFO | valid | epoch 001 | valid on 'valid' subset | ...``, or its ``--log-file``,
whose lines start at ``epoch 001 | ...``)."""
from __future__ import annotations

import re

VALID_FIELDS = ("epoch", "bleu", "bleu_aa_bb", "bleu_bb_aa", "num_updates", "loss")


def parse_valid(log: str, fields=VALID_FIELDS) -> list[dict]:
    """[{epoch, bleu, bleu_aa_bb, bleu_bb_aa, num_updates, loss}] of every "valid on 'valid'
    subset" line of a fairseq ``--log-format simple`` log, in log order (floats)."""
    rows = []
    for line in log.splitlines():
        if "valid on 'valid' subset" not in line:
            continue
        found = dict(re.findall(r"(?:^|\| )(\w+) ([-\d.]+)", line))
        rows.append({k: float(v) for k, v in found.items() if k in fields})
    return rows

"""Piecewise-linear weight schedules over training updates: ``"0:1,100000:0.1,300000:0"``.

Same format as XLM's ``lambda_ae`` and fairseq's ``PiecewiseLinearFn``: a single number is a
constant; otherwise ``update:value`` points with strictly increasing updates, linear in between
and constant outside. No fairseq needed.
"""
from __future__ import annotations

import bisect

from .common.errors import UserError


class PiecewiseLinear:
    def __init__(self, points: list[tuple[int, float]]):
        self.points = points
        self.xs = [x for x, _ in points]

    @classmethod
    def parse(cls, spec: str | float, option: str = "schedule") -> PiecewiseLinear:
        text = str(spec).strip()
        try:
            if ":" not in text:
                return cls([(0, float(text))])
            points = []
            for part in text.split(","):
                x, y = part.split(":")
                points.append((int(x), float(y)))
        except ValueError:
            raise UserError(f"{option}: cannot parse schedule {text!r} (expected '0:1,100000:0.1')") from None
        xs = [x for x, _ in points]
        if xs[0] != 0 or any(b <= a for a, b in zip(xs, xs[1:])):
            raise UserError(f"{option}: schedule {text!r} must start at update 0 and increase")
        return cls(points)

    def __call__(self, update: int) -> float:
        i = bisect.bisect_right(self.xs, update)
        if i == len(self.points):
            return self.points[-1][1]
        (x0, y0), (x1, y1) = self.points[i - 1], self.points[i]
        return y0 + (y1 - y0) * (update - x0) / (x1 - x0)

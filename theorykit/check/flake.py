"""Measured false-contradiction rates (``theorykit verify --seeds K``).

A statistical check declares a level: the probability that it says *contradicted* when the
claim is true (z = 3 two-sided: 0.27%; a Bonferroni family at the same family-wise level).
Re-running a claim under K independent seeds measures that rate. A claim is *flagged* when
its observed number of contradictions is improbable under its declared level: the binomial
tail P(X >= observed | K, level) is below ``FLAG_P``. (A claim whose theory is really wrong
is contradicted at every seed; the rate then is a finding, not a flake, and the table says
so.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

DEFAULT_LEVEL = 0.0027
"""The declared false-contradiction level of a z = 3 two-sided check."""
FLAG_P = 0.01
"""A claim is flagged when its contradiction count has binomial tail probability below this."""


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    return float(sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1)))


@dataclass(frozen=True)
class FlakeRow:
    claim_id: str
    runs: int
    holds: int
    contradicted: int
    inconclusive: int
    error: int
    rate: float
    level: float
    p_value: float
    verdict: str
    """``ok``; ``flaky`` (contradicted more often than its level allows, but not always);
    ``finding`` (contradicted at every seed: the theory, not the statistics, fails);
    ``errors`` (some runs errored)."""

    def to_json(self) -> dict:
        return asdict(self)


def flake_rows(statuses: Mapping[str, Sequence[str]], level: float = DEFAULT_LEVEL
               ) -> list[FlakeRow]:
    """One row per claim from its statuses over the seeds."""
    rows = []
    for cid, ss in statuses.items():
        n = len(ss)
        c = sum(s == "contradicted" for s in ss)
        e = sum(s == "error" for s in ss)
        p = binomial_tail(c, n, level)
        if e:
            verdict = "errors"
        elif n and c == n:
            verdict = "finding"
        elif p < FLAG_P:
            verdict = "flaky"
        else:
            verdict = "ok"
        rows.append(FlakeRow(cid, n, sum(s == "holds" for s in ss), c,
                             sum(s == "inconclusive" for s in ss), e, c / n if n else 0.0,
                             level, p, verdict))
    return rows

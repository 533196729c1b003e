"""Claims, verdicts, statistics and the ledger."""

from theorykit.check.claim import Claim, RunContext, Source, Status, Verdict
from theorykit.check.registry import all_claims, claim, select
from theorykit.check.stats import Estimate, agree, at_most, loglog_slope, mean_se

__all__ = [
    "Claim", "Estimate", "RunContext", "Source", "Status", "Verdict", "agree", "all_claims",
    "at_most", "claim", "loglog_slope", "mean_se", "select",
]

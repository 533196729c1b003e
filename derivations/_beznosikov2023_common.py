"""What the ``beznosikov2023_*`` claim modules share: the paper and the claim-id prefix.

The claims of Beznosikov, Horváth, Richtárik, Safaryan, *On Biased Compression for
Distributed Learning*, JMLR 24(276):1–50, 2023 (arXiv 2002.12410), one module per topic:

* :mod:`derivations.beznosikov2023_cgd` -- CGD rates of every catalog compressor and
  where they are attained;
* :mod:`derivations.beznosikov2023_counterexample` -- the DCGD counterexample, and EF
  and EF21 converging on it;
* :mod:`derivations.beznosikov2023_ef` -- the EF-SGD rate and its constant-step floor;
* :mod:`derivations.beznosikov2023_topk` -- the energy top-k keeps.

Provenance, honestly (see ``docs/theory/compression_papers.md`` §1): each module says
which of its statements are the paper's as *recalled* (``paper-recalled``), read from the
abstract (``paper-abstract``) or *derived* by theorykit (``derived``). Every claim
declares mutants (wrong versions of its theory read from ``ctx.theory``) that the same
check must contradict (issue 10). Every measurement runs the real methods
(:mod:`theorykit.methods.biased`) with the real catalog codecs (float32 wire values).

The leading underscore keeps this module out of the claim discovery.
"""

from __future__ import annotations

from derivations._common import BEZNOSIKOV2023

__all__ = ["PAPER", "PREFIX"]

PAPER = BEZNOSIKOV2023
"""The source cited by every claim of these modules."""
PREFIX = "beznosikov2023"
"""The claim ids are ``beznosikov2023.<name>``."""

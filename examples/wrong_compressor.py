"""A deliberately wrong user compressor, to show that the certifier catches it.

Rand-k (the catalog's codec) declared with ``omega = d/k - 2``; the true constant is
``d/k - 1`` (``E||C(x) - x||^2 = (d/k - 1)||x||^2`` for every ``x``), so
``theorykit compressor examples.wrong_compressor:WrongRandK -p k=4 -p d=16 --verify``
reports U.omega as contradicted and exits with status 1.
"""

from __future__ import annotations

from theorykit.compressors import D, Unbiased
from theorykit.compressors.catalog.sparsifiers import RandK


class WrongRandK(RandK):
    """Rand-k claiming the wrong variance constant omega = d/k - 2."""

    name = "wrong_randk"
    title = "Rand-k with a deliberately wrong omega (d/k - 2)"
    reference = "examples/wrong_compressor.py (wrong on purpose)"

    def classes(self):
        return (Unbiased(D / self.sym("k") - 2),)

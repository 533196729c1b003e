"""Composed catalog entries: top-k followed by an unbiased quantizer of the kept values.

Both are built with :func:`theorykit.compressors.algebra.composed_class`, so their classes
are *derived* (rules ``compose.B1`` / ``compose.B2``, relation 9 of the theory digest §1.1):
with ``Q ∈ U(omega_Q(k))`` acting on the ``k`` kept values and top-k ∈ B1(k/d, 1) ∩
B2(k/d, 1),

    Q ∘ top-k ∈ B1(k/d, 1 + omega_Q(k)) ∩ B2(k/d, 1 + omega_Q(k)),

and :func:`~theorykit.compressors.algebra.contractive` scales it by ``1/(1 + omega_Q(k))``
into ``B3((1 + omega_Q(k)) d/k)``. Beznosikov, Horváth, Richtárik & Safaryan (JMLR 24(276),
2023; v1 abstract) name "top-k combined with natural dithering" as their best performer
[read: abstract]; the composition rule itself is recalled and re-derived here.

Wire: ``k`` indices of ``ceil(log2 d)`` bits plus the quantizer's message of the ``k``
values (``bits = k ceil(log2 d) + bits_Q(k)``).
"""

from __future__ import annotations

from theorykit.compressors.algebra import composed_class
from theorykit.compressors.catalog.quantizers import QSGD, NaturalDithering
from theorykit.compressors.catalog.sparsifiers import TopK
from theorykit.compressors.registry import register

_REF = ("Beznosikov et al., JMLR 2023 (top-k with dithering, abstract: read; composition "
        "relation 9: recalled); constants derived by theorykit.compressors.algebra")

TopKQSGD = register(composed_class(
    QSGD, TopK, support="k", name="topk_qsgd",
    title="Top-k then QSGD (s levels) on the k kept values", reference=_REF))
"""Top-k, then QSGD with ``s`` levels on the ``k`` kept values: derived classes
``B1(k/d, 1 + min(k/s^2, sqrt(k)/s))``, ``B2(k/d, 1 + min(k/s^2, sqrt(k)/s))``."""

TopKNaturalDithering = register(composed_class(
    NaturalDithering, TopK, support="k", name="topk_natural_dithering",
    title="Top-k then natural dithering on the k kept values", reference=_REF))
"""Top-k, then natural dithering (``s`` levels, ``l_r`` norm) on the ``k`` kept values."""

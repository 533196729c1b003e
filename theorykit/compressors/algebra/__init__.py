r"""The class algebra: inclusions, scaling and composition of compressors, with proofs.

Every relation between the classes of :mod:`theorykit.compressors.classes` is a
:class:`Rule`: generic constants (SymPy symbols ``omega, alpha, beta, gamma, delta, c,
zeta``) in, derived constants out, and for every derived inequality a :class:`Proof` — a
*certificate* writing the target slack as a non-negative combination of hypothesis slacks
plus squares, which :meth:`Proof.check` verifies with ``sympy.simplify`` (identity) and
sign analysis on an explicit reparametrisation of the domain (multipliers non-negative).

The statistics are those of the certifier, for a fixed ``x`` normalised to ``||x|| = 1``
(all class inequalities are homogeneous of degree 2 in ``x``):
``S = E||C(x)||^2``, ``I = <E C(x), x>``, ``M = ||E C(x)||^2``, with the always-true facts
``S - M >= 0`` (Jensen) and ``M - I^2 >= 0`` (Cauchy–Schwarz). For a composition
``Q(C0(x))`` with ``Q`` unbiased, independent randomness, ``S0, I0, M0`` are the statistics
of ``C0`` and ``S0 <= S <= zeta S0`` (``zeta = 1 + omega_Q``, conditional Jensen and the
U bound of ``Q``), ``I = I0``.

Relations: Beznosikov, Horváth, Richtárik & Safaryan, *On Biased Compression for
Distributed Learning*, JMLR 24(276), 2023, Section 2 / Lemmas on the classes — recalled;
each proof here is derived and checked. The modules:

* :mod:`~.proofs` — the symbols (the class constants are those of :mod:`theorykit.symbols`),
  :class:`Proof` and :class:`Rule`;
* :mod:`~.rules` — :data:`RULES`, the table of relations with their proofs;
* :mod:`~.derive` — :func:`implied_classes` (the closure of a spec's claimed classes under
  the inclusions), :class:`DerivedSpec` and :func:`symbolic_spec`;
* :mod:`~.scaling` — :func:`scale` / :func:`scaled_class` and :func:`contractive`;
* :mod:`~.composition` — :func:`compose` / :func:`composed_class`.

Scaled and composed specs are :class:`~theorykit.compressors.base.CompressorSpec`\ s whose
classes are *derived* by the rules (never typed in), whose codecs delegate to the inner
specs, and which the certifier checks like any other compressor. Where several rules give
the same class, constants are combined with ``Min``/``Max`` (every candidate is a proven
bound); a rule whose condition (e.g. ``c beta < 2``) cannot be decided symbolically is kept
*conditional* and enters ``numeric_classes(d)`` only where the numbers satisfy it.
"""

from __future__ import annotations

from theorykit.compressors.algebra.composition import ComposedSpec, compose, composed_class
from theorykit.compressors.algebra.derive import (
    Derivation,
    DerivedSpec,
    implied_classes,
    symbolic_spec,
)
from theorykit.compressors.algebra.proofs import (
    ALPHA,
    BETA,
    DELTA,
    GAMMA,
    I0,
    M0,
    OMEGA,
    S0,
    STRONGER,
    U_,
    W_,
    ZETA,
    C,
    I,
    M,
    Proof,
    Rule,
    S,
)
from theorykit.compressors.algebra.rules import RULES
from theorykit.compressors.algebra.scaling import ScaledSpec, contractive, scale, scaled_class
from theorykit.compressors.base import D

__all__ = [
    "ALPHA", "BETA", "DELTA", "GAMMA", "I0", "M0", "OMEGA", "RULES", "S0", "STRONGER", "U_",
    "W_", "ZETA", "C", "ComposedSpec", "D", "Derivation", "DerivedSpec", "I", "M", "Proof",
    "Rule", "S", "ScaledSpec", "compose", "composed_class", "contractive", "implied_classes",
    "scale", "scaled_class", "symbolic_spec",
]

r"""Distributed compressed SGD (DCSGD): the mean of independently compressed gradients.

.. math:: x_{k+1} = x_k - \frac{\eta}{N}\sum_{i=1}^N C_i(g_i).

Symbolic moments (Compagnoni et al., AISTATS 2025, Theorem 1 -- the DCSGD SDE, *recalled*;
the explicit forms below are *derived* by the law of total covariance, independent
compressor randomness and noise): for unbiased compressors :math:`E\,C_i(v) = v`,

.. math:: E[D] = \nabla f,\qquad \operatorname{Cov}[D] = \frac1{N^2}\sum_i\Big[\frac{\Sigma_i}B
   + E_{Z}\operatorname{Cov}_{C}\big(C_i(\nabla f + Z_i)\,\big|\,Z_i\big)\Big].

The inner term uses the compressor's exact conditional covariance
:meth:`~theorykit.compressors.base.CompressorSpec.covariance` when it is known:

* a polynomial of degree <= 2 in v (Bernoulli :math:`\omega\operatorname{diag}(v^2)`, rand-k
  full matrix): the expectation over Z is exact,
  :math:`E_Z q(g + Z) = q(g) + \tfrac12\sum_{kl}\partial_k\partial_l q\,(\Sigma_i/B)_{kl}`;
* anything else (e.g. QSGD's ``frac`` form) is exact only without noise (Σ = 0).

Otherwise the covariance is modelled as :math:`\omega_i\operatorname{diag}(v^2)` with
:math:`E_Z` taken exactly, whose trace :math:`\omega_i(\|\nabla f\|^2 + \operatorname{tr}
\Sigma_i/B)` is the variance bound attained (an upper bound in trace otherwise) -- this is the
trace form of docs/theory/sde_papers.md Sec. 2.2 [D]:
:math:`\operatorname{tr}\Sigma_{DCSGD} = \frac1N\sum_i[\omega_i\|\nabla f\|^2 +
(1+\omega_i)\operatorname{tr}\Sigma_i/B]` with :math:`\Sigma_{DCSGD} = N\operatorname{Cov}[D]`.

A compressor may also be given as a bare symbol or number ``omega`` (a generic member of
U(omega), symbolic face only).
"""

from __future__ import annotations

from typing import Any

import sympy as sp
import torch

from theorykit.compressors.base import CompressorSpec
from theorykit.compressors.base import D as D_SYM
from theorykit.errors import AssumptionError, InputError
from theorykit.methods.base import Method, Send, StepMoments, per_worker, worker_sum
from theorykit.methods.registry import register
from theorykit.noise import NoiseModel, diag_matrix
from theorykit.validate import positive_float

__all__ = ["DCSGD", "GenericUnbiased", "compressor_key"]


class GenericUnbiased:
    """A generic unbiased compressor known only through omega (symbolic face only)."""

    def __init__(self, omega: Any) -> None:
        if isinstance(omega, str):
            omega = sp.Symbol(omega, nonnegative=True)
        try:
            self.omega_expr = sp.sympify(omega)
        except sp.SympifyError:
            raise InputError(f"omega must be a number or a symbol, got {omega!r}") from None
        if self.omega_expr.is_number:
            positive_float("omega", omega, allow_zero=True, one_message=True)
        self.name = f"U({sp.sstr(self.omega_expr)})"

    def __repr__(self) -> str:
        return f"GenericUnbiased(omega={sp.sstr(self.omega_expr)})"


Compressor = CompressorSpec | GenericUnbiased


def _as_compressor(c: Any) -> Compressor:
    if isinstance(c, CompressorSpec | GenericUnbiased):
        return c
    if isinstance(c, type) and issubclass(c, CompressorSpec):
        raise InputError(f"pass a compressor instance, not the class {c.__name__}")
    if isinstance(c, str | int | float | sp.Basic):
        return GenericUnbiased(c)
    raise InputError(f"not a compressor: {c!r}")


@register
class DCSGD(Method):
    """Distributed compressed SGD with one compressor for all workers or one per worker
    (heterogeneous omega_i)."""

    name = "dcsgd"
    label = "DCSGD"
    needs_compressor = True
    title = "Distributed compressed SGD"
    reference = "Compagnoni et al., AISTATS 2025, Theorem 1 (DCSGD SDE) [recalled]"
    update_latex = r"x_{k+1} = x_k - \frac{\eta}{N}\sum_{i=1}^{N} \mathcal{C}_i(g_i)"

    def __init__(self, compressor: Any) -> None:
        if compressor is None:
            raise InputError("DCSGD needs a compressor (or a list of N compressors)")
        self.compressors: list[Compressor] = [
            _as_compressor(c) for c in per_worker(compressor, "compressors")]

    # ------------------------------------------------------------------ torch face
    @property
    def compressor(self) -> Any:  # type: ignore[override]
        """The one compressor shared by all workers (None with per-worker compressors)."""
        return self.compressors[0] if len(self.compressors) == 1 else None

    @property
    def wire_compressor(self) -> Any:
        if len(self.compressors) != 1:
            raise InputError("the trainer runs one compressor on every rank")
        return self.compressors[0]

    def compress(self, v: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """``C(v)`` with the shared compressor (one call over all rows), or ``C_i`` on
        worker i (axis -2) with per-worker compressors."""
        comps = self.compressors
        for c in comps:
            if isinstance(c, GenericUnbiased):
                raise InputError(f"{c.name} is a symbolic compressor: it has no codec")
        if len(comps) == 1:
            return comps[0].apply(v, generator)
        if v.ndim < 2 or len(comps) != v.shape[-2]:
            raise InputError(
                f"DCSGD has {len(comps)} per-worker compressors but the gradients have "
                f"shape {tuple(v.shape)} (workers on axis -2)")
        return torch.stack([c.apply(v[..., i, :], generator) for i, c in enumerate(comps)],
                           dim=-2)

    def worker_step(self, state: Any, grads: torch.Tensor,
                    generator: torch.Generator | None = None, *, lr: Any = 1.0,
                    send: Send | None = None) -> tuple[torch.Tensor, Any]:
        """The message is ``C_i(g_i)``."""
        send = send or self.sender(generator)
        return send(grads), None

    def cache_key(self) -> tuple:
        return ("dcsgd", tuple(compressor_key(c) for c in self.compressors))

    def with_compressor(self, compressor: Any) -> DCSGD:
        return DCSGD(compressor)

    def may_be_dense(self) -> bool:
        """Whether a compressor's conditional covariance may be a dense d x d matrix (or
        have each diagonal entry involve every coordinate), probed at d = 3; a probe that
        fails counts as dense."""
        v = sp.Matrix(sp.symbols("v_1:4", real=True))
        for c in self.compressors:
            if isinstance(c, GenericUnbiased):
                continue
            try:
                cov = c.covariance(v)
            except Exception:  # e.g. k > 3 for rand-k: assume the expensive case
                return True
            if cov is not None and not sp.Matrix(cov).is_diagonal():
                return True
            if cov is not None and any(len(e.free_symbols & set(v)) > 1 for e in cov):
                return True  # each diagonal entry involves every coordinate (e.g. a norm)
        return False

    @property
    def compressor_names(self) -> list[str]:
        return [c.name for c in self.compressors]

    # ------------------------------------------------------------------ symbolic face
    def moments(self, grad: Any, noise: NoiseModel, n_workers: Any, batch: Any,
                compressors: Any = None) -> StepMoments:
        g, d, n, b = self._setup(grad, noise, n_workers, batch)
        comps = (self.compressors if compressors is None else
                 [_as_compressor(c) for c in per_worker(compressors, "compressors")])
        if len(comps) > 1:
            if not n.is_number:
                raise InputError("per-worker compressors need a numeric number of workers")
            if len(comps) != int(n):
                raise InputError(f"{len(comps)} per-worker compressors but N={int(n)}")
        for c in comps:
            _require_unbiased(c)
        assumptions = [
            *self._base_assumptions(noise),
            "compressor randomness independent of the noise and across workers",
            "unbiased compressors: E C(v) = v",
        ]
        v = sp.Matrix(sp.symbols(f"v_1:{d + 1}", real=True))
        forms: dict[int, _Form] = {}

        def term(i: int) -> sp.Matrix:
            c = comps[i if len(comps) > 1 else 0]
            if id(c) not in forms:
                forms[id(c)] = _Form(c, v, d)
            s_noise = noise.cov(i, d, b, assumptions)
            return s_noise + forms[id(c)].expected_cov(g, s_noise, assumptions)

        homogeneous = len(comps) == 1 and not noise.heterogeneous
        cov = worker_sum(n, term, homogeneous=homogeneous) / n**2
        return StepMoments(g, cov, assumptions)

    def __repr__(self) -> str:
        names = ", ".join(repr(c) for c in self.compressors)
        return f"DCSGD({names})"


def compressor_key(c: Any) -> tuple:
    """A hashable description of a compressor (for caches)."""
    if isinstance(c, CompressorSpec):
        return (type(c).__module__, type(c).__qualname__, c.name,
                tuple(sorted((k, repr(v)) for k, v in c.values.items())), c.d)
    if isinstance(c, GenericUnbiased):
        return ("omega", sp.srepr(c.omega_expr))
    return ("?", repr(c))


def _require_unbiased(c: Compressor) -> None:
    if isinstance(c, GenericUnbiased):
        return
    if not c.is_unbiased:
        classes = ", ".join(k.pretty() for k in c.classes()) or "no class"
        raise AssumptionError(
            f"DCSGD's SDE needs E C(x) = x; {c.name} is in {classes} only")


def compressor_omega(c: Compressor, d: int) -> sp.Expr:
    """omega of an unbiased compressor at dimension d (its parameters substituted)."""
    if isinstance(c, GenericUnbiased):
        return c.omega_expr
    return sp.sympify(c.omega()).subs(_subs(c, d))


def _subs(c: CompressorSpec, d: int) -> dict:
    if c.d is not None and c.d != d:
        raise InputError(f"{c.name} was built for d={c.d} but the gradient has d={d}")
    c.check_dim(d)
    subs = c.substitutions(d)
    subs[D_SYM] = d
    return subs


class _Form:
    """A compressor's conditional covariance at dimension d, parsed once: the exact
    ``covariance(v)`` (parameters substituted) and, if it is a polynomial of degree <= 2 in
    v, its monomials per entry."""

    def __init__(self, c: Compressor, v: sp.Matrix, d: int) -> None:
        self.c, self.d, self.vs = c, d, list(v)
        self.cov_v: sp.Matrix | None = None
        self.quad: list[tuple[int, int, list[tuple[sp.Expr, list[int]]]]] | None = None
        if isinstance(c, CompressorSpec):
            cov_v = c.covariance(v)
            if cov_v is not None:
                rep = {k: sp.sympify(val) for k, val in _subs(c, d).items()}
                self.cov_v = sp.Matrix(cov_v).xreplace(rep)
                self.quad = _parse_quadratic(self.cov_v, self.vs)

    def expected_cov(self, g: sp.Matrix, s_noise: sp.Matrix,
                     assumptions: list[str]) -> sp.Matrix:
        """E_Z Cov[C(g + Z) | Z] with Cov Z = s_noise (see module doc)."""
        c, d = self.c, self.d
        if self.cov_v is not None:
            noiseless = not s_noise.todok()
            if noiseless:
                _note(assumptions, f"{c.name}: exact conditional covariance Cov[C(v)|v]")
                return self.cov_v.xreplace(dict(zip(self.vs, g, strict=True)))
            if self.quad is not None:
                _note(assumptions, f"{c.name}: exact conditional covariance Cov[C(v)|v] "
                      "(quadratic in v, so E over the noise is exact)")
                out = sp.zeros(d, d)
                for a, bb, terms in self.quad:
                    acc = []
                    for coef, ks in terms:
                        if not ks:
                            acc.append(coef)
                        elif len(ks) == 1:
                            acc.append(coef * g[ks[0]])
                        else:
                            k1, k2 = ks
                            acc.append(coef * (g[k1] * g[k2] + s_noise[k1, k2]))
                    out[a, bb] = sp.Add(*acc)
                return out
            _note(assumptions, f"{c.name}: exact covariance is not quadratic in v, so E over "
                  "the noise has no closed form; modelled by its omega bound")
        omega = compressor_omega(c, d)
        _note(assumptions, f"{c.name}: covariance modelled as omega*diag(v^2) with "
              f"omega={sp.sstr(omega)}: variance bound attained (upper bound otherwise)")
        return diag_matrix([omega * (g[j] ** 2 + s_noise[j, j]) for j in range(d)])


def _parse_quadratic(cov_v: sp.Matrix, vs: list[sp.Symbol]
                     ) -> list[tuple[int, int, list[tuple[sp.Expr, list[int]]]]] | None:
    """Monomials (coef, [indices]) of each non-zero entry if every entry is a polynomial of
    degree <= 2 in v (E over the noise is then exact: v_a v_b -> g_a g_b + S_ab, v_a -> g_a);
    else None."""
    index = {s: k for k, s in enumerate(vs)}
    out = []
    for (a, bb), e in sorted(cov_v.todok().items()):
        if e == 0:
            continue
        terms = []
        for mono, coef in sp.expand(e).as_coefficients_dict().items():
            ks: list[int] = []
            for base, p in mono.as_powers_dict().items():
                if base == 1:
                    continue
                if base in index:
                    if not (p.is_Integer and p > 0):
                        return None
                    ks += [index[base]] * int(p)
                elif base.has(*vs):
                    return None
                else:
                    coef = coef * base**p
            if len(ks) > 2:
                return None
            terms.append((coef, ks))
        out.append((a, bb, terms))
    return out


def _note(assumptions: list[str], text: str) -> None:
    if text not in assumptions:
        assumptions.append(text)

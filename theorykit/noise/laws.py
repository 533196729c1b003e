r"""Heavy-tailed and user-chosen noise laws: Student-t, Laplace, symmetric Lomax (Pareto
type II), and :class:`LawNoise` for any other law of :mod:`theorykit.distributions`.

Each is ``Z_ij = s_ij * T / sqrt(B)`` with T the unit base law: the batch-level noise is
modelled directly, since a batch mean of t (Laplace, Lomax) variables is not t (Laplace,
Lomax) distributed (batch convention: :mod:`theorykit.noise`)."""

from __future__ import annotations

from typing import Any

import sympy as sp

from theorykit.distributions import SymmetricLaw
from theorykit.distributions import make as make_law
from theorykit.distributions.laplace import Laplace as LaplaceLaw
from theorykit.distributions.pareto import Lomax as LomaxLaw
from theorykit.distributions.student_t import StudentT as StudentTLaw
from theorykit.errors import InputError
from theorykit.noise.base import NoiseModel
from theorykit.noise.scales import Scales, shape_param
from theorykit.validate import positive_int

__all__ = ["Laplace", "LawNoise", "Lomax", "StudentT"]


class StudentT(NoiseModel):
    r"""Student-t batch noise :math:`Z_{ij} = s_{ij} T_\nu / \sqrt B` (nu = 1: Cauchy).

    The base law is :class:`theorykit.distributions.student_t.StudentT` (Bailey sampler,
    variance :math:`\nu/(\nu-2)` derived by SymPy for nu > 2, infinite for nu <= 2 -- then
    :meth:`cov` raises :class:`AssumptionError` -- and the hypergeometric sign mean)."""

    name = "student-t"
    title = "Student-t"
    reference = "Compagnoni et al., AISTATS 2025 (heavy-tailed noise, Student-t) [recalled]"
    heavy_tailed = True
    batch_convention = ("Z_ij = scale_ij * T_nu / sqrt(B): the batch-level noise is modelled "
                        "directly (a mean of t variables is not t-distributed)")

    def __init__(self, nu: Any, scale: Any = 1.0) -> None:
        self.nu = shape_param("Student-t nu", nu)
        self.law = StudentTLaw(nu=self.nu)
        self.scales = Scales("scale", scale)

    @classmethod
    def symbolic(cls, n_workers: int | None = None, nu: Any = "nu",
                 name: str = "s") -> StudentT:
        """Student-t with symbolic ``nu`` and scale ``s`` (or ``s_1..s_N``)."""
        if n_workers is None:
            return cls(nu=nu, scale=name)
        n = positive_int("number of workers N", n_workers)
        return cls(nu=nu, scale=[f"{name}_{i + 1}" for i in range(n)])

    def density_at_zero(self) -> sp.Expr:
        """f_nu(0) = Γ((ν+1)/2)/(sqrt(νπ) Γ(ν/2)) (the law's density at 0)."""
        return self.law.density_at_zero()

    def latex(self) -> str:
        return rf"s_{{ij}}\, t_{{{sp.latex(self.nu)}}} / \sqrt{{B}}"


# --------------------------------------------------------------------------- Laplace
class Laplace(NoiseModel):
    r"""Laplace batch noise :math:`Z_{ij} = b_{ij} L / \sqrt B`, L standard Laplace
    (:class:`theorykit.distributions.laplace.Laplace`: density e^{-|x|}/2, variance 2,
    sign mean :math:`\operatorname{sign}(g)(1 - e^{-|z|})`, z = g√B/b)."""

    name = "laplace"
    title = "Laplace"
    reference = "standard Laplace law; sign mean derived by theorykit"

    def __init__(self, scale: Any = 1.0) -> None:
        self.law = LaplaceLaw()
        self.scales = Scales("scale", scale)

    def latex(self) -> str:
        return r"b_{ij}\,\mathrm{Laplace}(1) / \sqrt{B}"


# --------------------------------------------------------------------------- Lomax
class Lomax(NoiseModel):
    r"""Symmetric Lomax (Pareto type II) batch noise, tail index ``alpha``:
    :math:`Z_{ij} = s_{ij} S\,P / \sqrt B` with a random sign S and
    :math:`P(P > p) = (1 + p)^{-\alpha}`, p >= 0 (no gap at the origin). The base law is
    :class:`theorykit.distributions.pareto.Lomax` (variance factor
    :math:`2/((\alpha-1)(\alpha-2))` for alpha > 2; sign mean
    :math:`\operatorname{sign}(g)\,(1 - (1 + |z|)^{-\alpha})`, z = g√B/s). Not the type I
    "pareto" law of :mod:`theorykit.distributions.pareto` (see its docstring); this model
    was called ``pareto`` before that name was given to type I."""

    name = "lomax"
    title = "Symmetric Pareto (Lomax)"
    reference = "symmetric Lomax law; moments and sign mean derived by theorykit"
    heavy_tailed = True

    def __init__(self, alpha: Any, scale: Any = 1.0) -> None:
        self.alpha = shape_param("Lomax alpha", alpha)
        self.law = LomaxLaw(alpha=self.alpha)
        self.scales = Scales("scale", scale)

    def latex(self) -> str:
        return rf"s_{{ij}}\,\mathrm{{Lomax}}({sp.latex(self.alpha)}) / \sqrt{{B}}"


# --------------------------------------------------------------------------- any law
class LawNoise(NoiseModel):
    """Batch noise ``Z_ij = s_ij T / sqrt(B)`` with T any unit law of
    :mod:`theorykit.distributions` (a registered name or a user's ``module:Object``)."""

    name = "law"
    title = "noise from a law"

    def __init__(self, law: SymmetricLaw | str, scale: Any = 1.0, **params: Any) -> None:
        self.law = make_law(law, **params) if isinstance(law, str) else law
        if self.law.scale_param is not None and self.law.scale != 1.0:
            raise InputError(f"noise {self.law.name}: give the scale as scale=..., the law "
                             "itself must have unit scale")
        self.name = self.law.name  # type: ignore[misc]
        self.title = self.law.title  # type: ignore[misc]
        self.reference = self.law.reference  # type: ignore[misc]
        self.heavy_tailed = self.law.heavy_tailed  # type: ignore[misc]
        self.scales = Scales("scale", scale)

"""What a derivation starts from: the method, compressor(s) and noise resolved into a
:class:`_Setup`, and the SDE pair before / after the change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from theorykit.errors import InputError
from theorykit.symbols import BATCH_FACTOR as DELTA
from theorykit.symbols import LR_FACTOR as KAPPA
from theorykit.symbols import OMEGA, OMEGA_NEW
from theorykit.symbols import WORKER_FACTOR as ALPHA
from theorykit.validate import positive_float


@dataclass
class _Setup:
    method: str                      # dsgd | dcsgd | dsignsgd
    noise: Any                       # symbolic NoiseModel
    omega: sp.Expr                   # 0 or OMEGA
    omega_new: sp.Expr | None        # None (same method), OMEGA_NEW or a value
    omega_values: dict[sp.Symbol, sp.Expr]
    labels: dict[str, str]
    sign: bool
    assumptions: list[str]
    no_sde: str = ""
    spec: Any = None


def _noise(noise: Any, nu: Any) -> Any:
    from theorykit.noise import Gaussian, NoiseModel, StudentT

    if isinstance(noise, NoiseModel):
        if not isinstance(noise, Gaussian | StudentT):
            raise InputError(f"scaling rules support gaussian and student-t noise, got "
                             f"{noise.name}")
        if noise.heterogeneous:
            raise InputError("scaling rules assume homogeneous workers; give one noise scale "
                             "for all workers")
        return noise
    key = str(noise).lower().replace("_", "-")
    if key in ("gaussian", "normal"):
        if nu is not None:
            raise InputError("nu is a Student-t parameter; use --noise student-t")
        return Gaussian(sigma="sigma")
    if key in ("student-t", "t", "studentt", "cauchy"):
        return StudentT(nu=1 if key == "cauchy" and nu is None else ("nu" if nu is None
                                                                      else nu), scale="s")
    raise InputError(f"unknown noise {noise!r} for scaling rules; use gaussian or student-t")


def _omega_of(c: Any, prime: bool) -> tuple[sp.Expr, str]:
    """(ω expression, label) of a compressor given as a spec, a catalog name, an omega
    number/symbol or "omega"; parameters not given stay symbolic (primed for the target)."""
    from theorykit.compressors.base import CompressorSpec
    from theorykit.compressors.registry import make

    if isinstance(c, str) and c.startswith("omega"):
        return (OMEGA_NEW if prime else OMEGA), c
    if isinstance(c, str):
        c = make(c)
    if isinstance(c, type) and issubclass(c, CompressorSpec):
        raise InputError(f"pass a compressor instance, not the class {c.__name__}")
    if isinstance(c, CompressorSpec):
        om = sp.sympify(c.omega())  # AssumptionError if biased
        om = om.xreplace({k: sp.sympify(v) for k, v in c.substitutions().items()})
        if prime:
            om = om.xreplace({s: sp.Symbol(s.name + "'", **s.assumptions0)
                              for s in om.free_symbols})
        return sp.nsimplify(om) if om.is_Float else om, f"{c.name}{_vals(c)}"
    if isinstance(c, int | float | sp.Basic):
        v = sp.sympify(c)
        if v.is_number:
            positive_float("omega", c, allow_zero=True, one_message=True)
        return (sp.nsimplify(v) if v.is_Float else v), f"U({sp.sstr(v)})"
    raise InputError(f"not a compressor: {c!r}")


def _vals(c: Any) -> str:
    vals = ", ".join(f"{k}={v}" for k, v in c.values.items())
    if c.d is not None:
        vals = f"{vals}, d={c.d}" if vals else f"d={c.d}"
    return f"({vals})" if vals else ""


def _setup(method: str, compressor: Any, noise: Any, to_compressor: Any, nu: Any) -> _Setup:
    key = str(method).lower().replace("-", "").replace("_", "")
    if key not in ("dsgd", "dcsgd", "dsignsgd"):
        raise InputError(f"unknown method {method!r}; scaling rules know dsgd, dcsgd, dsignsgd")
    nz = _noise(noise, nu)
    labels = {"noise": f"{nz.name} ({nz.describe_params()})"}
    assumptions = ["homogeneous workers (same noise law and compressor on every worker)",
                   "the SDE is an order-1 weak approximation (small eta); rules are exact "
                   "for the SDE, the discrete method follows up to O(eta)"]
    omega_values: dict[sp.Symbol, sp.Expr] = {}
    omega: sp.Expr = sp.Integer(0)
    omega_new: sp.Expr | None = None
    spec: Any = None
    if key == "dsignsgd":
        if compressor is not None or to_compressor is not None:
            raise InputError("dsignsgd takes no compressor (its sign is the compression)")
        return _Setup(key, nz, omega, None, omega_values, labels, True, assumptions)
    if key == "dsgd" and compressor is not None:
        raise InputError("dsgd takes no compressor; use --method dcsgd, or --to-compressor "
                         "to move from DSGD to DCSGD")
    if key == "dcsgd":
        if compressor is None:
            raise InputError("dcsgd needs a compressor (catalog name, module:Object or omega)")
        om, lab = _omega_of(compressor, prime=False)
        labels["compressor"] = lab
        spec = compressor
        omega = OMEGA
        omega_values[OMEGA] = om
        assumptions.append(f"{lab} is unbiased with omega = {sp.sstr(om)}; the compressor "
                           "enters the rules through omega (its variance bound attained: the "
                           "trace form of Theorem 1); omega > 0")
    if to_compressor is not None:
        om2, lab2 = _omega_of(to_compressor, prime=True)
        labels["to_compressor"] = lab2
        omega_new = OMEGA_NEW  # kept symbolic in the derivation; its value is recorded
        if om2 != OMEGA_NEW:
            omega_values[OMEGA_NEW] = om2
        assumptions.append(f"after the change the compressor is {lab2} with omega' = "
                           f"{sp.sstr(om2)}")
    elif key == "dcsgd":
        omega_new = OMEGA_NEW
    if isinstance(nz.nu if hasattr(nz, "nu") else None, sp.Basic):
        nuv = nz.nu
        if nuv.is_number and nuv <= 2:
            st = _Setup(key, nz, omega, omega_new, omega_values, labels, False, assumptions)
            st.no_sde = (f"{key.upper()}'s SDE needs finite noise variance; Student-t noise "
                         f"with nu = {sp.sstr(nuv)} <= 2 has infinite variance, so there is no "
                         "SDE and no SDE scaling rule (DSignSGD's SDE exists for every nu)")
            return st
        assumptions.append(f"Student-t nu = {sp.sstr(nuv)} > 2 (finite variance)")
    return _Setup(key, nz, omega, omega_new, omega_values, labels, False, assumptions,
                  spec=spec)


def _derive_pair(st: _Setup) -> tuple[Any, Any]:
    """The original SDE at (eta, B, N, omega) and the changed one at
    (kappa*eta, delta*B, alpha*N, omega') for a generic gradient in R^1."""
    from theorykit.methods import DCSGD, DSGD, DSignSGD, GenericUnbiased
    from theorykit.sde.derive import B_SYMBOL, N_SYMBOL, derive
    from theorykit.symbols import ETA

    def method(om: sp.Expr | None) -> Any:
        if st.sign:
            return DSignSGD()
        if om is None or om == 0:
            return DSGD()
        return DCSGD(GenericUnbiased(om))

    new_om = st.omega_new if st.omega_new is not None else st.omega
    s0 = derive(method(st.omega), None, st.noise, 1)
    s1 = derive(method(new_om), None, st.noise, 1, n_workers=ALPHA * N_SYMBOL,
                batch=DELTA * B_SYMBOL, lr_symbol=KAPPA * ETA)
    return s0, s1

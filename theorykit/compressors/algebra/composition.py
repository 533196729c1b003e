r"""Composed compressors ``Q(C(x))``: :class:`ComposedSpec`, :func:`composed_class` and
:func:`compose`.

An inner compressor ``C`` then an unbiased outer ``Q`` with independent randomness; the
classes are *derived* by the ``compose.*`` rules of :mod:`~theorykit.compressors.algebra.rules`
with ``zeta = 1 + omega_Q`` (Beznosikov, Horváth, Richtárik & Safaryan, JMLR 24(276), 2023,
relation 9 — recalled; proofs derived). With a ``support`` the message is the kept indices
plus ``Q``'s message of the kept values.
"""

from __future__ import annotations

from typing import ClassVar

import sympy as sp
import torch

from theorykit.compressors.algebra.derive import (
    Derivation,
    DerivedSpec,
    apply_rule,
    as_expr,
    derived_class,
    simplify_constant,
    sources,
)
from theorykit.compressors.algebra.proofs import ZETA
from theorykit.compressors.algebra.rules import RULES
from theorykit.compressors.base import CompressorSpec, D, Payload
from theorykit.compressors.classes import SignType
from theorykit.compressors.codec_utils import index_field, read_indices
from theorykit.errors import AssumptionError, InputError

__all__ = ["ComposedSpec", "compose", "composed_class"]


class ComposedSpec(DerivedSpec):
    r"""``Q(C(x))``: an inner compressor ``C`` then an unbiased outer ``Q``, with independent
    randomness. With ``support`` (an expression such as ``k``), ``C(x)`` must have at most
    ``m = support`` non-zeros and ``Q`` is applied to those ``m`` values (its constants taken
    at dimension ``m``); the message is ``m`` indices of ``ceil(log2 d)`` bits plus ``Q``'s
    message of the ``m`` values (indices packed as the catalog sparsifiers pack them,
    :func:`~theorykit.compressors.codec_utils.index_field`). Without ``support`` ``Q``
    acts on the whole vector and the message is ``Q``'s. Classes: the ``compose.*`` rules
    with ``zeta = 1 + omega_Q``."""

    q_cls: ClassVar[type[CompressorSpec]]
    c_cls: ClassVar[type[CompressorSpec]]
    support: ClassVar[sp.Expr | None]

    @property
    def inner(self) -> CompressorSpec:
        return self.part(self.c_cls)

    def outer(self, m: int | None = None) -> CompressorSpec:
        """The outer compressor (symbolic if ``m`` is None, else at dimension ``m``)."""
        return self.part(self.q_cls, m)

    def _validate(self) -> None:
        self.inner  # noqa: B018 - validates the inner parameters
        self.zeta()  # the outer compressor must be unbiased

    def support_dim(self, d: int) -> int:
        """The number of values ``Q`` acts on at dimension ``d`` (cached)."""
        if self.support is None:
            return d
        return self._memo("support_dim", self._support_dim, d)

    def _support_dim(self, d: int) -> int:
        m = sp.sympify(self.support).subs(self.substitutions(d))
        if m.free_symbols:
            raise InputError(f"{self.name}: support {sp.sstr(m)} needs values for "
                             f"{sorted(map(str, m.free_symbols))}")
        return int(m)

    def check_dim(self, d: int) -> None:
        self.inner.check_dim(d)
        if self.support is not None and all(
                s in self.substitutions(d) for s in sp.sympify(self.support).free_symbols):
            m = self.support_dim(d)
            if not 1 <= m <= d:
                raise InputError(f"{self.name}: support size {m} must be in [1, d={d}]")
            self.outer().check_dim(m)

    def zeta(self) -> sp.Expr:
        """``1 + omega_Q`` at the dimension ``Q`` acts on."""
        u = self.outer().membership("U")
        if u is None:
            raise AssumptionError(
                f"{self.name}: composition needs an unbiased outer compressor; "
                f"{self.q_cls.name} has classes "
                f"{', '.join(c.pretty() for c in self.outer().classes()) or 'none'}")
        om = sp.sympify(u.constants()["omega"])
        if self.support is not None:
            om = om.subs(D, self.support)
        return 1 + om

    def derivations(self) -> list[Derivation]:
        zeta = self.zeta()
        out: list[Derivation] = []
        for src, text in sources(self.inner.classes()):
            if isinstance(src, SignType):
                out.append(Derivation(SignType(f"composition with a sign-type map ({src.reason})"),
                                      "compose keeps sign-type", text))
            elif src.name in ("U", "B1", "B2"):
                out.append(apply_rule(RULES[f"compose.{src.name}"], src, {ZETA: zeta}, text))
        return out

    def b3_inflation(self) -> list[tuple[sp.Expr, sp.Expr]]:
        zeta = self.zeta()
        out = []
        b3 = self.inner.membership("B3")
        if b3 is not None:
            out.append((sp.sympify(b3.constants()["delta"]), zeta))
        if isinstance(self.inner, DerivedSpec):
            out += [(dl, simplify_constant(z * zeta)) for dl, z in self.inner.b3_inflation()]
        return out

    def bits(self) -> sp.Expr:
        qb = sp.sympify(self.outer().bits())
        if self.support is None:
            return qb
        return self.support * sp.ceiling(sp.log(D, 2)) + qb.subs(D, self.support)

    # ---------------------------------------------------------------- codec
    def _gather(self, y: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
        y2 = y.reshape(-1, y.shape[-1])
        nnz = torch.count_nonzero(y2, dim=-1)
        if bool((nnz > m).any()):
            raise InputError(f"{self.name}: inner output has {int(nnz.max())} non-zeros, more "
                             f"than the support m={m}")
        if bool((nnz == m).all()):  # the usual case: the non-zeros, in index order
            idx = torch.nonzero(y2)[:, 1].view(y2.shape[0], m)
        else:  # fewer non-zeros (zeros in x): pad with zero positions
            idx = torch.topk(y2.abs(), m, dim=-1, sorted=False).indices
        return idx, y2.gather(-1, idx)

    def _scatter(self, idx: torch.Tensor, vals: torch.Tensor, shape: tuple[int, ...],
                 dtype: torch.dtype) -> torch.Tensor:
        out = torch.zeros((idx.shape[0], shape[-1]), dtype=dtype, device=vals.device)
        out.scatter_(-1, idx, vals.to(dtype))
        return out.view(shape)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self._prepare(x)
        y = self.inner.apply(x, generator)
        if self.support is None:
            return self.outer(x.shape[-1]).apply(y, generator)
        m = self.support_dim(x.shape[-1])
        idx, vals = self._gather(y, m)
        qv = self.outer(m).apply(vals, generator)
        return self._scatter(idx, qv, tuple(x.shape), y.dtype)

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        x = self._prepare(x)
        y = self.inner.apply(x, generator)
        p = self.new_payload(x)
        if self.support is None:
            qp = self.outer(x.shape[-1]).encode(y, generator)
        else:
            d = x.shape[-1]
            m = self.support_dim(d)
            idx, vals = self._gather(y, m)
            p.fields["indices"] = index_field(idx.reshape(-1), d)
            qp = self.outer(m).encode(vals, generator)
        p.fields.update({f"q.{k}": v for k, v in qp.fields.items()})
        p.__dict__["_q_dtype"] = qp.dtype
        return p

    def decode(self, payload: Payload) -> torch.Tensor:
        d = payload.dim
        m = d if self.support is None else self.support_dim(d)
        qdtype = payload.__dict__.get("_q_dtype", payload.dtype)
        qp = Payload(self.q_cls.name, (*payload.shape[:-1], m), qdtype, payload.device,
                     {k[2:]: v for k, v in payload.fields.items() if k.startswith("q.")})
        qv = self.outer(m).decode(qp)
        if self.support is None:
            return qv.to(payload.dtype)
        idx = read_indices(payload.fields["indices"], d, payload.batch * m)
        idx = idx.view(payload.batch, m)
        return self._scatter(idx.to(qv.device), qv.reshape(payload.batch, m), payload.shape,
                             payload.dtype)


def composed_class(q: type[CompressorSpec], c: type[CompressorSpec], *,
                   support: str | sp.Expr | None = None, name: str | None = None,
                   title: str | None = None, reference: str | None = None
                   ) -> type[ComposedSpec]:
    """A spec class for ``q ∘ c`` (``q`` applied after ``c``, independent randomness).
    Parameters are the union of both (a shared name means a shared value); ``support``
    names the number of non-zeros of ``c``'s output (e.g. ``"k"``) when ``q`` should act
    on the kept values only."""
    for cls in (q, c):
        if not (isinstance(cls, type) and issubclass(cls, CompressorSpec)):
            raise InputError(f"composed_class needs CompressorSpec subclasses, got {cls!r}")
    params = list(c.params)
    for p in q.params:
        same = next((o for o in params if o.name == p.name), None)
        if same is None:
            params.append(p)
        elif same != p:
            raise InputError(f"{q.name} and {c.name} both have a parameter {p.name!r} with "
                             "different definitions; rename one")
    syms = {p.name: p.symbol() for p in params} | {"d": D}
    sup = None if support is None else as_expr(support, syms)
    if sup is not None and sup.free_symbols - set(syms.values()):
        raise InputError(f"support {sp.sstr(sup)} uses unknown symbols")
    return derived_class(
        ComposedSpec, (q, c), f"{c.__name__}Then{q.__name__}", name=name or f"{c.name}_{q.name}",
        title=title or f"{q.title or q.name} after {c.title or c.name}",
        reference=reference, formula=f"{q.name} ∘ {c.name}", rules="compose.*",
        relations="relation 9,", params=tuple(params), doc=f"{q.__name__} after {c.__name__}",
        q_cls=q, c_cls=c, support=sup)


def compose(q: CompressorSpec, c: CompressorSpec, *, support: str | sp.Expr | None = None,
            name: str | None = None) -> CompressorSpec:
    """``q ∘ c`` as a spec instance with the parameter values of both (and ``d``)."""
    cls = composed_class(type(q), type(c), support=support, name=name)
    vals = dict(c.values)
    for k, v in q.values.items():
        if k in vals and vals[k] != v:
            raise InputError(f"parameter {k!r} differs: {vals[k]} in {c.name}, {v} in {q.name}")
        vals[k] = v
    d = c.d if c.d is not None else None
    return cls(**vals, d=d)

"""The compressor specification: one object, three faces.

A :class:`CompressorSpec` is at once

* a **mathematical object** (symbolic face): parameters as SymPy symbols, class
  memberships (:mod:`theorykit.compressors.classes`) whose constants are expressions in
  those symbols and in the dimension ``d``, and the message size ``bits()`` as a formula of
  ``d``;
* a **runtime codec** (runtime face): ``encode(x, generator) -> Payload`` packs the message
  for real (see :mod:`theorykit.compressors.bitpack`), ``decode(payload)`` rebuilds the
  tensor, ``payload.nbits`` is its exact size. ``apply(x, generator)`` is the same map
  without the wire format (the fast path simulations use); with equal generator states
  ``decode(encode(x, g)) == apply(x, g)`` exactly;
* an **empirical object**: :func:`theorykit.compressors.certify.certify` estimates the
  class ratios by Monte Carlo and checks every claimed constant.

All runtime methods take ``x`` of shape ``(..., d)``: leading dimensions are workers,
replicas or samples and are compressed independently.

Declaring a compressor takes a subclass with ``name``, ``params``, ``classes()``,
``bits()`` and ``encode``/``decode`` (see README, "Declare your own compressor").
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import sympy as sp
import torch

from theorykit.compressors.bitpack import _NUMPY_FLOATS
from theorykit.compressors.classes import CompressorClass, SignType, Unbiased
from theorykit.errors import InputError
from theorykit.symbols import DIM as D  # the dimension, defined once


@dataclass(frozen=True)
class Param:
    """A compressor parameter: its name, type, domain and meaning."""

    name: str
    kind: type = float
    description: str = ""
    default: Any = None
    minimum: float | None = None
    minimum_inclusive: bool = True
    maximum: float | None = None
    maximum_inclusive: bool = True
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)
    """A domain check beyond the bounds, on the coerced value: ``None`` if the value is
    fine, else the reason it is refused (``InputError: parameter 'x' <reason>``)."""

    @property
    def required(self) -> bool:
        return self.default is None

    def symbol(self) -> sp.Symbol:
        assumptions: dict[str, bool] = {"real": True}
        if self.kind is int:
            assumptions["integer"] = True
        if self.minimum is not None and (
            self.minimum > 0 or (self.minimum == 0 and not self.minimum_inclusive)
        ):
            assumptions["positive"] = True
        elif self.minimum is not None and self.minimum >= 0:
            assumptions["nonnegative"] = True
        return sp.Symbol(self.name, **assumptions)

    def validate(self, value: Any) -> Any:
        """Coerce ``value`` to the parameter's type and check its domain."""
        try:
            if self.kind is int:
                if isinstance(value, str):
                    value = float(value)
                if isinstance(value, float):
                    if not value.is_integer():
                        raise ValueError
                    value = int(value)
                value = int(value)
            elif self.kind is float:
                value = float(value)
            else:
                value = self.kind(value)
        except (TypeError, ValueError):
            raise InputError(
                f"parameter {self.name!r} must be {self.kind.__name__}, got {value!r}"
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"parameter {self.name!r} must be finite, got {value!r}")
        if self.minimum is not None:
            bad = value < self.minimum if self.minimum_inclusive else value <= self.minimum
            if bad:
                op = ">=" if self.minimum_inclusive else ">"
                raise InputError(
                    f"parameter {self.name!r} must be {op} {self.minimum}, got {value}")
        if self.maximum is not None:
            bad = value > self.maximum if self.maximum_inclusive else value >= self.maximum
            if bad:
                op = "<=" if self.maximum_inclusive else "<"
                raise InputError(
                    f"parameter {self.name!r} must be {op} {self.maximum}, got {value}")
        if self.check is not None:
            why = self.check(value)
            if why is not None:
                raise InputError(f"parameter {self.name!r} {why}")
        return value


@dataclass
class PackedField:
    """One field of a message: its buffer and the number of information bits it carries."""

    data: torch.Tensor
    nbits: int


@dataclass
class Payload:
    """A packed message for a batch of vectors of shape ``shape`` (``(..., d)``)."""

    compressor: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device
    fields: dict[str, PackedField] = field(default_factory=dict)

    @property
    def nbits(self) -> int:
        """Exact number of bits of the message (the bit formula times the batch size)."""
        return sum(f.nbits for f in self.fields.values())

    @property
    def nbytes(self) -> int:
        """Bytes actually held by the buffers (each field rounded up to whole bytes)."""
        return sum(f.data.numel() * f.data.element_size() for f in self.fields.values())

    @property
    def batch(self) -> int:
        return math.prod(self.shape[:-1])

    @property
    def dim(self) -> int:
        return self.shape[-1]


class CompressorSpec(abc.ABC):
    """Base class of every compressor. Subclasses are declared once and serve the
    symbolic side, the torch side, the certifier and the book."""

    name: ClassVar[str]
    """Catalog key (``theorykit compressor NAME``)."""
    title: ClassVar[str] = ""
    """Human-readable name."""
    reference: ClassVar[str] = ""
    """Where the compressor and its constants come from (paper, table/theorem)."""
    params: ClassVar[tuple[Param, ...]] = ()
    randomized: ClassVar[bool] = True
    """Whether the map uses randomness (certifier draws many samples only if so)."""
    float32_wire: ClassVar[bool] = True
    """Whether the message carries values (or scales) as float32, so float64 input beyond
    the float32 range is refused by :meth:`_prepare` instead of overflowing to inf."""

    def __init__(self, **values: Any) -> None:
        known = {p.name: p for p in self.params}
        unknown = set(values) - set(known) - {"d"}
        if unknown:
            raise InputError(
                f"{self.name}: unknown parameter(s) {sorted(unknown)}; "
                f"known: {sorted(known) or 'none'}"
            )
        self.values: dict[str, Any] = {}
        for p in self.params:
            if p.name in values:
                self.values[p.name] = p.validate(values[p.name])
            elif p.default is not None:
                self.values[p.name] = p.validate(p.default)
        self.d: int | None = None
        if "d" in values and values["d"] is not None:
            self.d = Param("d", int, minimum=1).validate(values["d"])
            self.check_dim(self.d)
        self._validate()

    # ----------------------------------------------------------------- parameters
    def _validate(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Cross-parameter checks (override); raise :class:`InputError`."""

    def check_dim(self, d: int) -> None:
        """Dimension checks: ``d >= 1`` here; overrides add checks such as ``k <= d`` (and
        call this one). Raise :class:`InputError`."""
        if d < 1:
            raise InputError(f"{self.name}: dimension d must be >= 1, got d={d}")

    def require(self, *names: str) -> None:
        missing = [n for n in names if n not in self.values]
        if missing:
            raise InputError(f"{self.name}: missing parameter(s) {missing}")

    def __getitem__(self, key: str) -> Any:
        if key == "d":
            if self.d is None:
                raise InputError(f"{self.name}: dimension d is not set")
            return self.d
        try:
            return self.values[key]
        except KeyError:
            raise InputError(f"{self.name}: missing parameter {key!r}") from None

    def sym(self, name: str) -> sp.Symbol:
        """The SymPy symbol of a parameter (``'d'`` gives :data:`D`)."""
        if name == "d":
            return D
        for p in self.params:
            if p.name == name:
                return p.symbol()
        raise KeyError(name)

    def symbols(self) -> dict[str, sp.Symbol]:
        out = {p.name: p.symbol() for p in self.params}
        out["d"] = D
        return out

    def substitutions(self, d: int | None = None) -> dict[sp.Symbol, Any]:
        """Numeric values for the symbols (parameters given plus ``d``)."""
        subs: dict[sp.Symbol, Any] = {self.sym(k): sp.nsimplify(v) if isinstance(v, float)
                                      else v for k, v in self.values.items()
                                      if isinstance(v, int | float)}
        dd = d if d is not None else self.d
        if dd is not None:
            subs[D] = dd
        return subs

    # ----------------------------------------------------------------- symbolic face
    @abc.abstractmethod
    def classes(self) -> tuple[CompressorClass, ...]:
        """Class memberships with constants as SymPy expressions of the parameters and d."""

    @abc.abstractmethod
    def bits(self) -> sp.Expr:
        """Bits of one compressed vector as an expression of d and the parameters."""

    def covariance(self, v: sp.Matrix) -> sp.Matrix | None:
        """Symbolic conditional covariance Cov[C(v) | v] for a vector ``v`` of symbols, if
        known in closed form (used by the full-matrix DCSGD diffusion); else ``None``."""
        return None

    def membership(self, cls: str | type[CompressorClass]) -> CompressorClass | None:
        name = cls if isinstance(cls, str) else cls.name
        for c in self.classes():
            if c.name == name:
                return c
        return None

    @property
    def is_unbiased(self) -> bool:
        return self.membership(Unbiased) is not None

    @property
    def is_sign_type(self) -> bool:
        return self.membership(SignType) is not None

    def omega(self) -> sp.Expr:
        """The variance constant of an unbiased compressor (raises if not unbiased)."""
        from theorykit.errors import AssumptionError

        u = self.membership(Unbiased)
        if u is None:
            raise AssumptionError(
                f"{self.name} is not unbiased (classes: "
                f"{', '.join(c.pretty() for c in self.classes())}); "
                "an omega-based result needs E C(x) = x"
            )
        return sp.sympify(u.omega)

    def numeric_classes(self, d: int | None = None) -> tuple[CompressorClass, ...]:
        subs = self.substitutions(d)
        return tuple(c.subs(subs) for c in self.classes())

    def numeric_bits(self, d: int) -> int:
        val = sp.sympify(self.bits()).subs(self.substitutions(d))
        return int(sp.ceiling(val))

    # ----------------------------------------------------------------- runtime face
    @abc.abstractmethod
    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        """Compress and pack ``x`` of shape ``(..., d)``."""

    @abc.abstractmethod
    def decode(self, payload: Payload) -> torch.Tensor:
        """Rebuild the compressed tensor from a payload."""

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """C(x) without the wire format. Overrides must consume ``generator`` exactly as
        :meth:`encode` does, so both give identical results for equal generator states."""
        return self.decode(self.encode(x, generator))

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.apply(x, generator)

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 0:
            raise InputError(f"{self.name}: input must have a last dimension d")
        self.check_dim(x.shape[-1])
        if not all_finite(x):
            raise InputError(f"{self.name}: input contains NaN or infinite values")
        self._check_float32_range(x)
        return x

    def _check_float32_range(self, x: torch.Tensor) -> None:
        """Refuse float64 input beyond the float32 range when values travel as float32
        (:attr:`float32_wire`): it would overflow to inf on the wire."""
        if self.float32_wire and x.dtype == torch.float64 and x.numel():
            big = float(x.abs().amax())
            if _F32_MAX < big < math.inf:  # NaN/inf get the finiteness message
                raise InputError(
                    f"{self.name}: input value |x| = {big:.3g} exceeds the float32 range "
                    f"({_F32_MAX:.3g}) of the wire format; rescale the input")

    def new_payload(self, x: torch.Tensor) -> Payload:
        return Payload(self.name, tuple(x.shape), x.dtype, x.device)

    # ----------------------------------------------------------------- presentation
    def describe(self) -> dict[str, Any]:
        """A JSON-able description: parameters, classes (formulas and numbers), bits."""
        out: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "reference": self.reference,
            "randomized": self.randomized,
            "parameters": {p.name: {"type": p.kind.__name__, "description": p.description,
                                    "default": p.default} for p in self.params},
            "values": dict(self.values) | ({"d": self.d} if self.d is not None else {}),
            "classes": [
                {"class": c.name, "constants": {k: sp.sstr(v) for k, v in c.constants().items()},
                 **({"reason": c.reason} if isinstance(c, SignType) else {})}
                for c in self.classes()
            ],
            "bits": sp.sstr(self.bits()),
        }
        if self.d is not None or not any(p.required for p in self.params if p.name not in
                                         self.values):
            try:
                out["numeric"] = [
                    {"class": c.name, "constants": {k: _num(v) for k, v in c.constants().items()}}
                    for c in self.numeric_classes()
                ]
                if self.d is not None:
                    out["numeric_bits"] = self.numeric_bits(self.d)
            except (TypeError, ValueError):
                pass
        return out

    def __repr__(self) -> str:
        vals = ", ".join(f"{k}={v}" for k, v in self.values.items())
        if self.d is not None:
            vals = f"{vals}, d={self.d}" if vals else f"d={self.d}"
        return f"{type(self).__name__}({vals})"


def diagonal_matrix(entries: list[sp.Expr]) -> sp.Matrix:
    """A diagonal SymPy matrix filled in place (``sp.diag(*entries)`` takes seconds at
    n = 1000; this takes milliseconds). Used by the ``covariance`` of diagonal codecs."""
    n = len(entries)
    m = sp.zeros(n, n)
    for i, e in enumerate(entries):
        m[i, i] = e
    return m


_F32_MAX = float(torch.finfo(torch.float32).max)


def all_finite(x: torch.Tensor) -> bool:
    """Whether ``x`` has no NaN/inf (non-float tensors: True).

    One min and one max reduction (NaN propagates, +-inf shows), no boolean temporary: on
    CPU for float16/32/64 NumPy's single-threaded SIMD reductions (at d = 1e6 about 40x
    faster than ``torch.aminmax``, which hands work to torch's intra-op threads), otherwise
    ``torch.aminmax``; complex tensors through ``isfinite``."""
    if x.numel() == 0 or not (x.is_floating_point() or x.is_complex()):
        return True
    if x.is_complex():
        return bool(torch.isfinite(x).all())
    if x.device.type == "cpu" and x.dtype in _NUMPY_FLOATS:
        a = x.detach().reshape(-1).numpy()
        with np.errstate(invalid="ignore"):
            lo, hi = a.min(), a.max()
        return math.isfinite(float(lo)) and math.isfinite(float(hi))
    lo, hi = torch.aminmax(x.detach())
    return math.isfinite(float(lo)) and math.isfinite(float(hi))


def _num(v: sp.Expr) -> float | str:
    v = sp.sympify(v)
    if v.free_symbols:
        return sp.sstr(v)
    try:
        return float(v)
    except TypeError:
        return sp.sstr(v)


def with_values(spec: CompressorSpec, values: Mapping[str, Any]) -> CompressorSpec:
    """A copy of ``spec`` with some parameters changed."""
    merged = dict(spec.values)
    if spec.d is not None:
        merged["d"] = spec.d
    merged.update(values)
    return type(spec)(**merged)


class SymbolicSpec(CompressorSpec):
    """A compressor with a symbolic face only: its classes and bits give SDEs, rules and
    bounds, but it has no codec, so it cannot run in a simulation or on the wire. Subclass it
    instead of :class:`CompressorSpec` to try a compressor's constants before writing its
    codec; :meth:`encode` and :meth:`decode` say so in one line."""

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        from theorykit.errors import AssumptionError

        raise AssumptionError(f"{self.name} is symbolic only (a SymbolicSpec): it has no "
                              "codec to run; implement encode/decode on a CompressorSpec")

    decode = encode  # type: ignore[assignment]

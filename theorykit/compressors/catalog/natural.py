r"""Natural compression (Horváth, Ho, Horváth, Sahu, Canini, Richtárik, *Natural Compression
for Distributed Deep Learning*, 2019; MSML 2022 — recalled).

:math:`C_{nat}` rounds each :math:`|x_j|` at random to one of its two neighbouring powers of
two, unbiasedly: for :math:`2^e \le |t| < 2^{e+1}`,

.. math:: C(t) = \mathrm{sign}(t)\cdot\begin{cases} 2^{e+1} & \text{w.p. } p = |t|/2^e - 1\\
                                                     2^{e}   & \text{w.p. } 1 - p\end{cases}

Variance (derived; the paper's Theorem states ``omega = 1/8`` — recalled). With
:math:`|t| = 2^e(1+s)`, :math:`s\in[0,1)`: :math:`E C(t) = t` and
:math:`\mathrm{Var} = 2^{2e}s(1-s)`, so the ratio :math:`s(1-s)/(1+s)^2` is maximised at
:math:`s = 1/3` with value :math:`1/8`: ``U(1/8)``; :math:`E\|C\|^2 \in [1, 9/8]\|x\|^2`
gives ``B1(1, 9/8)`` and ``B2(1, 9/8)``. (:func:`natural_omega` derives it with SymPy.)

Wire format: 9 bits per coordinate — a sign plane (1 bit each, ``1`` = negative) and one
8-bit exponent code ``c`` per coordinate, decoded as ``0`` for ``c = 0`` and
:math:`2^{c-127}` for ``c = 1..254`` (the float32 normal exponents ``-126..127``; the
code of ``c`` is exactly float32's biased exponent field, so decoding is a bit shift).
``c = 255`` is never sent.

Range (float32 exponent range):

* ``|x_j| >= 2**127`` is clamped to ``2**127`` (rounding up would overflow float32); this
  is biased, and only reachable for values within a factor 2 of float32's max or from
  float64 input;
* ``|x_j| < 2**-126`` (float32 subnormals; tiny float64 values) is rounded unbiasedly to
  ``0`` or ``2**-126`` (probability ``|x_j| 2**126``); unbiased, but the relative variance
  bound ``1/8`` only holds for coordinates in ``[2**-126, 2**127)``.

Exactness: the randomness is one uniform 23-bit integer ``r`` per coordinate (float32,
float16, bfloat16 input: the top 23 bits of the quantizer engine's per-segment 24-bit
integers, see :class:`Natural`; float64 input: :func:`codec_utils.random_bits`); for float32
input the rounding probability ``m/2^23``
(``m`` the mantissa field) is realised exactly by a carry (:func:`natural_codes`). Float64
input takes a ``frexp`` path whose probabilities are resolved on the ``2^-23`` grid
(rounded down, error < 2^-23 per coordinate).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
import torch

from theorykit.compressors.base import D, Payload
from theorykit.compressors.catalog.block_engine import _BlockQuantizer
from theorykit.compressors.catalog.fixed_point import _sign_plane
from theorykit.compressors.classes import B1, B2, Unbiased
from theorykit.compressors.codec_utils import code_field, mask_field, random_bits, rows
from theorykit.compressors.registry import register

_MAX_CODE = 254
_TWO23 = float(2**23)


def natural_omega() -> sp.Expr:
    r"""``max_{s in [0,1]} s(1-s)/(1+s)^2 = 1/8`` (at ``s = 1/3``), derived with SymPy."""
    s = sp.Symbol("s", nonnegative=True)
    f = s * (1 - s) / (1 + s) ** 2
    crit = [c for c in sp.solve(sp.diff(f, s), s) if c.is_real and 0 <= c <= 1]
    return sp.simplify(max([f.subs(s, c) for c in crit] + [f.subs(s, 0), f.subs(s, 1)]))


def natural_codes(x2: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sign bits (bool) and exponent codes (uint8, ``0..254``) of natural compression of
    ``x2``, given i.i.d. uniform int32 integers ``r`` in ``[0, 2**23)`` of the same shape
    (``r`` is used as scratch space and overwritten).

    Stochastic rounding by carry: for float32 ``x`` with exponent field ``E`` and mantissa
    ``m``, ``code = ((|x| bits) + r) >> 23`` rounds up (``E -> E + 1``) exactly when
    ``r >= 2**23 - m``, i.e. with probability ``m / 2**23 = |x|/2**e - 1`` — exact. The same
    formula rounds float32 subnormals to ``0`` or ``2**-126`` unbiasedly. float16/bfloat16
    are widened to float32 (exact); float64 takes a ``frexp`` path with the same rule on the
    real-valued mantissa ``q`` (probability ``floor(q)/2**23``); both give identical codes
    on float32-representable input.
    """
    if x2.dtype in (torch.float16, torch.bfloat16):
        x2 = x2.to(torch.float32)
    if x2.dtype == torch.float32:
        bits = x2.contiguous().view(torch.int32)
        # (bits + r) keeps |x|'s bits + r in its low 31 bits (no overflow: r < 2^23), so
        # ((bits + r) >> 23) & 0xFF is (|x| bits + r) >> 23, computed in place on r.
        t = r.add_(bits)
        t >>= 23
        t &= 0xFF
        return bits < 0, t.clamp_(max=_MAX_CODE).to(torch.uint8)
    a = x2.abs()
    mant, ex = torch.frexp(a)  # a = mant 2^ex, mant in [0.5, 1)
    normal = a >= 2.0**-126
    q = torch.where(normal, (2 * mant - 1) * _TWO23, a * 2.0**149)
    low = torch.where(normal, ex.to(torch.int64) + 126, torch.zeros_like(ex, dtype=torch.int64))
    code = (low + (r + q >= _TWO23)).clamp_(min=0, max=_MAX_CODE)
    return torch.signbit(x2), code.to(torch.uint8)


def _value_table() -> np.ndarray:
    i = np.arange(512, dtype=np.uint32)
    return (((i & 255) << 23) | ((i >> 8) << 31)).view(np.float32)


_VALUES = _value_table()  # index code + 256 * sign -> float32 with those exponent/sign bits


def natural_values(neg: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """float32 values of (sign, code): ``(-1)^neg 2^(code-127)``, code 0 -> (signed) zero.
    The code is float32's biased exponent field: on CPU a 512-entry table lookup (NumPy,
    uint16 index), elsewhere two shifts and an OR; both give the same bits."""
    if code.device.type == "cpu":
        idx = code.numpy().astype(np.uint16)
        idx |= np.left_shift(neg.numpy().view(np.uint8), 8, dtype=np.uint16)
        return torch.from_numpy(np.take(_VALUES, idx))
    return _natural_values_torch(neg, code)


def _natural_values_torch(neg: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """The device-agnostic branch of :func:`natural_values` (shifts and an OR)."""
    v = code.to(torch.int32)
    v <<= 23
    v |= neg.to(torch.int32) << 31
    return v.view(torch.float32)


@register
class Natural(_BlockQuantizer):
    """Natural compression: unbiased random rounding to powers of two, ``U(1/8)``,
    9 bits per coordinate (see the module docstring for the derivation and wire format).

    Codec: float32/float16/bfloat16 input runs on the quantizers' block engine
    (:class:`~theorykit.compressors.catalog.block_engine._BlockQuantizer`: cache-sized blocks,
    one PCG64 stream per segment, ``r = R >> 1`` from its 24-bit integers ``R``, threads,
    packing per segment) with the carry rule of :func:`natural_codes`; float64 input keeps
    the ``frexp`` path (one :func:`codec_utils.random_bits` stream). Both write the same
    wire (``signs``, ``exponents``) and decode through the engine."""

    name = "natural"
    float32_wire = False  # float64 input has its own exact path (_content64)
    title = "Natural compression (random rounding to powers of 2)"
    reference = ("Horváth et al., Natural Compression for Distributed Deep Learning, 2019 "
                 "(recalled); omega = 1/8 re-derived by theorykit")
    params = ()
    randomized = True
    _signed = True
    _codes_key = "exponents"

    def classes(self):
        om = sp.Rational(1, 8)
        return (Unbiased(om), B1(sp.Integer(1), 1 + om), B2(sp.Integer(1), 1 + om))

    def bits(self) -> sp.Expr:
        return 9 * D

    # ------------------------------------------------------------- block engine hooks
    def _width(self) -> int:
        return 8

    def _encode_block(self, xb, aux, rnd, codes, signs):
        t = rnd.bitwise_right_shift_(1)     # r: uniform 23-bit integers
        t.add_(xb.view(torch.int32))        # (x bits + r): carry into the exponent field
        t.bitwise_right_shift_(23)
        t.bitwise_and_(0xFF)                # (|x| bits + r) >> 23, as in natural_codes
        t.clamp_(max=_MAX_CODE)
        codes.copy_(t)
        _sign_plane(xb, signs)

    def _decode_block(self, codes, signs, aux, out):
        v = codes.to(torch.int32)
        v.bitwise_left_shift_(23)           # the code is float32's biased exponent field
        v.bitwise_or_(signs.view(torch.int8).to(torch.int32).bitwise_left_shift_(31))
        out.view(torch.int32).copy_(v)

    # ------------------------------------------------------------- float64 path
    def _content64(self, x: torch.Tensor, generator: torch.Generator | None):
        x2 = rows(x)
        r = random_bits(tuple(x2.shape), 23, generator, x2.device)
        return natural_codes(x2, r)

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        x = self._prepare(x)
        if x.dtype != torch.float64:
            return super().encode(x, generator)
        neg, code = self._content64(x, generator)
        p = self.new_payload(x)
        p.fields["signs"] = mask_field(neg)
        p.fields["exponents"] = code_field(code, 8)
        return p

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self._prepare(x)
        if x.dtype != torch.float64:
            return super().apply(x, generator)
        neg, code = self._content64(x, generator)
        return natural_values(neg, code).view(x.shape).to(x.dtype)

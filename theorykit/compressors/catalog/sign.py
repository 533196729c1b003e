r"""Sign compressors: sign, scaled sign, TernGrad.

Conventions

* ``sign(0) = +1``: a sign travels in exactly one bit (bit 1 = negative), so a zero (and
  ``-0.0``) coordinate decodes as ``+1`` — unlike ``torch.sign``, which returns 0. The
  mathematical sign-type analyses assume continuous noise, where zeros have probability 0.
* Scales (norms) travel as float32; for float64 input the output is rounded accordingly,
  identically in ``apply`` and ``decode``.

Wire formats: ``sign`` d bits; ``scaled_sign`` d bits + one float32; ``terngrad`` 2 bits
per coordinate (ternary code 0 -> 0, 1 -> +1, 2 -> -1) + one float32 (``||x||_inf``).
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
import torch

from theorykit.compressors.base import CompressorSpec, D, PackedField, Payload, diagonal_matrix
from theorykit.compressors.catalog.block_engine import _BlockQuantizer
from theorykit.compressors.catalog.fixed_point import _round_fixed
from theorykit.compressors.classes import B1, B2, B3, SignType, Unbiased
from theorykit.compressors.codec_utils import (
    float_field,
    lookup_codes,
    pack_negative,
    read_floats,
    require_float,
    rows,
)
from theorykit.compressors.registry import register
from theorykit.errors import InputError

_PM1 = (1.0, -1.0)          # sign bit 0 -> +1, 1 -> -1


def _levels(values: tuple[float, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, device=device)


def terngrad_omega() -> sp.Expr:
    r"""The exact worst-case variance constant of TernGrad, :math:`(\sqrt d - 1)/2` (derived).

    :math:`E\|C(x)-x\|^2 = \sum_j (M|x_j| - x_j^2) = M\|x\|_1 - \|x\|^2` with
    :math:`M = \|x\|_\infty`. By homogeneity take :math:`M = x_1 = 1` and
    :math:`a_j = |x_j| \in [0,1]` for the other :math:`n = d-1` coordinates; the ratio is
    :math:`g - 1`, :math:`g = (1+\sum a_j)/(1+\sum a_j^2)`. For a fixed :math:`\sum a_j^2`,
    :math:`\sum a_j` is largest when all :math:`a_j` are equal (Cauchy–Schwarz), so
    :math:`g(a) = (1+na)/(1+na^2)`; :math:`g'(a)=0 \iff na^2+2a-1=0 \iff
    a^* = 1/(\sqrt d + 1) \in (0, 1]`, and :math:`g(a^*) = (\sqrt d + 1)/2`. Hence
    :math:`\sup_x E\|C-x\|^2/\|x\|^2 = (\sqrt d - 1)/2`, attained at
    :math:`x^* = (1, a^*, \dots, a^*)`. (Checked symbolically and by numerical
    maximisation in ``tests/test_compressors_sparsify_sign.py``.)
    """
    return (sp.sqrt(D) - 1) / 2


def terngrad_worst_case(d: int) -> torch.Tensor:
    """The maximiser ``x* = (1, a*, ..., a*)``, ``a* = 1/(sqrt(d)+1)``, of TernGrad's
    variance ratio (float64, see :func:`terngrad_omega`)."""
    x = torch.full((d,), 1.0 / (d**0.5 + 1.0), dtype=torch.float64)
    x[0] = 1.0
    return x


def _scaled_levels(packed: torch.Tensor, width: int, payload: Payload, scale: torch.Tensor,
                   levels: tuple[float, ...]) -> torch.Tensor:
    """Rows of ``levels[code] * scale[row]`` (float32 products, then cast to the payload's
    dtype). One batch row: the scaled table is looked up directly; several: unit levels
    then an in-place row scaling. Both are the exact products ``level * scale``."""
    dev = packed.device
    scale = scale.to(dev)
    count = payload.batch * payload.dim
    lev = _levels(levels, torch.float32, dev)
    if payload.batch == 1:
        out = lookup_codes(packed, width, count, lev * scale[0])
    else:
        out = lookup_codes(packed, width, count, lev).view(payload.batch, payload.dim)
        out.mul_(scale.unsqueeze(1))
    return out.view(payload.shape).to(payload.dtype)


class _SignBase(CompressorSpec):
    params = ()
    randomized = False

    def _rows(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self._prepare(x)
        require_float(self.name, x)
        return x, rows(x)


@register
class Sign(_SignBase):
    r"""signSGD's compressor :math:`C(x) = \mathrm{sign}(x)` (Bernstein, Wang,
    Azizzadenesheli, Anandkumar, *signSGD*, ICML 2018 — recalled), with ``sign(0) = +1``.

    Sign-type: not positively homogeneous (``sign(c x) = sign(x) != c sign(x)``), so it is
    in none of U/B1/B2/B3 (``||C(x)||^2 = d`` for every ``x != 0``). Wire: d bits.
    """

    name = "sign"
    float32_wire = False  # signs only: any finite input is fine
    title = "Sign (1 bit per coordinate)"
    reference = "Bernstein et al., signSGD, ICML 2018 (recalled)"

    def classes(self):
        return (SignType("not positively homogeneous: sign(c x) = sign(x) != c sign(x)"),)

    def bits(self) -> sp.Expr:
        return D

    def covariance(self, v: sp.Matrix) -> sp.Matrix:
        """Deterministic map: Cov[C(v)|v] = 0."""
        return sp.zeros(v.rows, v.rows)

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        x, x2 = self._rows(x)
        p = self.new_payload(x)
        p.fields["signs"] = PackedField(pack_negative(x2), x2.numel())
        return p

    def decode(self, payload: Payload) -> torch.Tensor:
        f = payload.fields["signs"]
        dtype = payload.dtype
        levels = _levels(_PM1, dtype, f.data.device)
        return lookup_codes(f.data, 1, f.nbits, levels).view(payload.shape)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x, _ = self._rows(x)
        if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
            # NumPy's select of the two values (single-threaded; the torch chain below
            # makes three full-size passes through torch's intra-op threads)
            a = x.detach().reshape(-1).numpy()
            pm = np.array(_PM1, dtype=a.dtype)
            return torch.from_numpy(pm[np.less(a, 0).view(np.uint8)]).view(x.shape)
        return (x < 0).to(x.dtype).mul_(-2).add_(1)  # exactly +-1, as decode's table


@register
class ScaledSign(_SignBase):
    r"""Scaled sign :math:`C(x) = \frac{\|x\|_1}{d}\mathrm{sign}(x)` (Karimireddy, Rebjock,
    Stich, Jaggi, *Error feedback fixes SignSGD*, ICML 2019 — recalled), ``sign(0) = +1``.

    Derivation (derived): :math:`\|C\|^2 = \|x\|_1^2/d = \langle C, x\rangle` (zeros add 0 to
    both sides) and :math:`\|x\|^2 \le \|x\|_1^2 \le d\|x\|^2`, so ``B1(1/d, 1)``,
    ``B2(1/d, 1)``; :math:`\|C-x\|^2 = \|x\|^2 - \|x\|_1^2/d \le (1 - 1/d)\|x\|^2`: ``B3(d)``.
    Equality at a coordinate vector ``x = e_1``. Wire: d sign bits + float32 scale.
    """

    name = "scaled_sign"
    title = "Scaled sign (||x||_1/d) sign(x)"
    reference = ("Karimireddy et al., ICML 2019 (recalled); constants derived, Beznosikov "
                 "et al., JMLR 2023, Defs. 1-3")

    def classes(self):
        return (B1(1 / D, sp.Integer(1)), B2(1 / D, sp.Integer(1)), B3(D))

    def bits(self) -> sp.Expr:
        return D + 32

    def covariance(self, v: sp.Matrix) -> sp.Matrix:
        """Deterministic map: Cov[C(v)|v] = 0."""
        return sp.zeros(v.rows, v.rows)

    def _content(self, x2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x2.device.type == "cpu" and x2.dtype in (torch.float32, torch.float64):
            # NumPy's pairwise sum of |x| (single-threaded, no intra-op thread hand-off)
            a = x2.detach().numpy()
            scale = torch.from_numpy(np.abs(a).sum(axis=1) / a.shape[1])
        else:
            scale = torch.linalg.vector_norm(x2, 1, dim=1) / x2.shape[1]
        return pack_negative(x2), scale.to(torch.float32)

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        x, x2 = self._rows(x)
        packed, scale = self._content(x2)
        p = self.new_payload(x)
        p.fields["signs"] = PackedField(packed, x2.numel())
        p.fields["scale"] = float_field(scale)
        return p

    def decode(self, payload: Payload) -> torch.Tensor:
        f = payload.fields["signs"]
        return _scaled_levels(f.data, 1, payload, read_floats(payload.fields["scale"]),
                              _PM1)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        # Through the packed signs: packing costs < 1 ms at d = 1e7 and makes apply and
        # decode the same arithmetic.
        x, x2 = self._rows(x)
        packed, scale = self._content(x2)
        return _scaled_levels(packed, 1, self.new_payload(x), scale, _PM1)


@register
class TernGrad(_BlockQuantizer):
    r"""TernGrad (Wen, Xu, Yan, Wu, Wang, Chen, Li, *TernGrad: Ternary Gradients to Reduce
    Communication in Distributed Deep Learning*, NeurIPS 2017, eq. (2) — recalled; one
    scaler per vector, no gradient clipping):

    .. math:: C(x)_j = \|x\|_\infty\, \mathrm{sign}(x_j)\, b_j,\qquad
              b_j \sim \mathrm{Bernoulli}(|x_j| / \|x\|_\infty)\ \text{independent}.

    Derivation (derived): :math:`E C(x) = x`; :math:`E\|C\|^2 = M\|x\|_1` with
    :math:`M=\|x\|_\infty`, and :math:`\|x\|^2 \le M\|x\|_1 \le \frac{\sqrt d + 1}{2}\|x\|^2`
    (:func:`terngrad_omega`). Hence ``U((sqrt(d) - 1)/2)`` (tight), ``B1(1, (sqrt(d)+1)/2)``
    and ``B2(1, (sqrt(d)+1)/2)``. Wire: 2 bits per coordinate + float32 ``M``.

    Sampling: ``b_j = [floor(|x_j| 2^24 / M) + R_j >= 2^24]`` with ``R_j`` a uniform 24-bit
    integer (probability ``floor(2^24 |x_j|/M) / 2^24``, within ``2^-24`` below
    ``|x_j|/M``; exactly 1 at ``|x_j| = M``), float32 arithmetic (float64 input is cast, as
    ``M`` travels as float32); a zero vector maps to zero. The codec is the quantizers'
    block engine (:class:`~theorykit.compressors.catalog.block_engine._BlockQuantizer`:
    cache-sized blocks, segment-wise random streams and packing, threads), so
    ``decode(encode(x, g1)) == apply(x, g2)`` bit for bit for equal generator states.
    """

    name = "terngrad"
    title = "TernGrad (ternary, unbiased)"
    reference = ("Wen et al., NeurIPS 2017 (recalled); omega = (sqrt(d)-1)/2 derived by "
                 "theorykit")
    randomized = True

    def classes(self):
        om = terngrad_omega()
        return (Unbiased(om), B1(sp.Integer(1), om + 1), B2(sp.Integer(1), om + 1))

    def bits(self) -> sp.Expr:
        return 2 * D + 32

    def covariance(self, v: sp.Matrix) -> sp.Matrix:
        r"""Cov[C(v)|v] = diag(|v_j| M - v_j^2), :math:`M = \max_j |v_j|` (derived: the
        :math:`b_j` are independent given v; :math:`E C_j^2 = M^2 |v_j|/M`)."""
        n = v.rows
        m = sp.Max(*[sp.Abs(v[i]) for i in range(n)])
        return diagonal_matrix([sp.Abs(v[i]) * m - v[i] ** 2 for i in range(n)])

    # ------------------------------------------------------------- codec (block engine)
    _signed = False
    _norm_key = "scale"
    _norm_order = math.inf

    def _width(self) -> int:
        return 2

    def _row_values(self, x2: torch.Tensor) -> torch.Tensor:
        """float32 ``M = ||x_b||_inf`` per row: two plain reductions (about 3x faster than
        ``vector_norm(ord=inf)`` on CPU); NaN/inf reach ``M`` and raise."""
        if x2.device.type == "cpu":   # NumPy's row reductions: no intra-op thread hand-off
            a = x2.numpy()
            with np.errstate(invalid="ignore"):
                m = torch.from_numpy(np.maximum(a.max(axis=1), -a.min(axis=1)))
        else:
            m = torch.maximum(x2.amax(dim=1), x2.amin(dim=1).neg_())
        if not bool(torch.isfinite(m).all()):
            raise InputError(f"{self.name}: input contains NaN or infinite values")
        return m

    def _encode_aux(self, row):
        # M 2^-24 (exact; M >= 2^-100 after the engine's tiny-row rescaling, so it stays
        # normal): |x| / (M 2^-24) = 2^24 |x|/M, correctly rounded, exactly 2^24 at |x| = M
        return (torch.where(row > 0, row * 2.0**-24, torch.ones_like(row)).unsqueeze(-1),)

    def _decode_aux(self, row):
        return (row.unsqueeze(-1),)

    def _encode_block(self, xb, aux, rnd, codes, signs):
        (k,) = aux
        y = torch.abs(xb)
        y.div_(k)                              # 2^24 |x_j| / M in [0, 2^24]
        keep = _round_fixed(y, rnd, 1)         # b_j (int32 0/1)
        neg = xb.view(torch.int32) >> 31       # -1 where the sign bit is set, else 0
        neg.bitwise_and_(keep)                 # 1 where negative and kept
        keep.add_(neg)                         # code 0 -> 0, 1 -> +1, 2 -> -1
        codes.copy_(keep)

    def _decode_block(self, codes, signs, aux, out):
        (m,) = aux
        v = codes & 1
        v.sub_(codes >> 1)                     # uint8: 0, 1, 255 (= int8 -1)
        out.copy_(v.view(torch.int8))
        out.mul_(m)

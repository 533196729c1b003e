r"""Sparsifiers: Bernoulli, rand-k (scaled and unscaled), top-k, biased Bernoulli.

Class constants follow the definitions of Beznosikov, Horváth, Richtárik, Safaryan, *On
Biased Compression for Distributed Learning*, JMLR 24(276), 2023, Definitions 1–3 (see
:mod:`theorykit.compressors.classes`). Every constant below is **derived** here from the
exact moments of the map (given in each docstring) and listed only when the membership
holds for the spec itself, for every x; memberships obtained by scaling (e.g.
``(k/d) randk`` in B3) are :mod:`theorykit.compressors.algebra`'s job.

Wire formats (``Payload.nbits`` is exact; ``bits()`` is per vector)

* top-k, rand-k, unscaled rand-k: ``k`` indices of ``ceil(log2 d)`` bits plus ``k`` float32
  values: ``bits = k (32 + ceil(log2 d))``. The values are those of ``C(x)`` (already
  scaled), so one decoder serves all three.
* Bernoulli (scaled and biased): a ``d``-bit keep mask plus one float32 per kept
  coordinate. The number kept is random, so ``Payload.nbits = d + 32 |S|`` is the
  *realised* size and ``bits() = d + 32 p d`` its **expectation**.

Values travel as float32: for float64 input ``C(x)`` is rounded to float32 (identically in
``apply`` and ``decode``).
"""

from __future__ import annotations

from typing import ClassVar

import sympy as sp
import torch

from theorykit.compressors.base import CompressorSpec, D, Param, Payload, diagonal_matrix
from theorykit.compressors.classes import B1, B2, B3, CompressorClass, Unbiased
from theorykit.compressors.codec_utils import (
    float_field,
    index_field,
    mask_field,
    read_floats,
    read_indices,
    read_mask,
    require_float,
    rows,
    uniform,
)
from theorykit.compressors.registry import register
from theorykit.errors import InputError

_DERIVED_PER_DEFS = "constants derived, classes per Beznosikov et al., JMLR 2023, Defs. 1-3"
"""Reference tail of the scaled (unbiased) sparsifiers."""
_TABLE_1 = "Beznosikov et al., JMLR 2023, Table 1 (recalled); constants derived"
"""Reference of the unscaled (biased) random sparsifiers."""

K_PARAM = Param("k", int, "number of coordinates kept", minimum=1)
P_PARAM = Param("p", float, "probability of keeping a coordinate", minimum=0,
                minimum_inclusive=False, maximum=1)


def _cov_dim(spec: CompressorSpec, v: sp.Matrix) -> int:
    if v.cols != 1:
        raise InputError(f"{spec.name}: covariance needs a column vector, got shape {v.shape}")
    spec.check_dim(v.rows)
    return v.rows


class _Sparsifier(CompressorSpec):
    """Shared part of the sparsifiers: a fraction ``q = kept_fraction()`` of the coordinates
    is kept (each with probability ``q`` for the random ones; top-k keeps the ``k`` largest),
    the kept values scaled by ``1/q`` when ``scaled``."""

    scaled: ClassVar[bool] = False

    def kept_fraction(self) -> sp.Expr:
        """``q``: ``k/d`` or ``p``."""
        raise NotImplementedError

    def classes(self) -> tuple[CompressorClass, ...]:
        """Unscaled: ``B1(q, 1)``, ``B2(q, 1)``, ``B3(1/q)`` (Beznosikov et al., JMLR 2023,
        Table 1 [recalled]; equalities). Scaled by ``r = 1/q``: ``U(r - 1)``, ``B1(r, r)``,
        ``B2(1, r)`` (unbiased; Beznosikov et al., JMLR 2023, Defs. 1-3 [derived])."""
        q = self.kept_fraction()
        if self.scaled:
            r = 1 / q
            return (Unbiased(r - 1), B1(r, r), B2(sp.Integer(1), r))
        return (B1(q, sp.Integer(1)), B2(q, sp.Integer(1)), B3(1 / q))

    def _float_rows(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` checked (last dimension, finite, floating point) and its ``(B, d)`` rows."""
        x = self._prepare(x)
        require_float(self.name, x)
        return x, rows(x)


# =========================================================================== index + values
class _IndexSparsifier(_Sparsifier):
    """Shared codec of the k-sparse compressors: ``k`` indices + ``k`` float32 values."""

    params = (K_PARAM,)

    def check_dim(self, d: int) -> None:
        super().check_dim(d)
        k = self.values.get("k")
        if k is not None and k > d:
            raise InputError(f"{self.name}: k={k} exceeds d={d}")

    def kept_fraction(self) -> sp.Expr:
        """``k/d`` (top-k keeps at least that fraction of the mass, see :class:`TopK`)."""
        return self.sym("k") / D

    def bits(self) -> sp.Expr:
        return self.sym("k") * (32 + sp.ceiling(sp.log(D, 2)))

    def _indices(self, x2: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The ``(B, k)`` int64 kept indices (the only use of the generator)."""
        raise NotImplementedError

    def _sample(
        self, x: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, x2 = self._float_rows(x)
        idx = self._indices(x2, generator)
        vals = x2.gather(1, idx)
        if self.scaled:
            vals = vals * (x2.shape[1] / self["k"])
        return x, idx, vals.to(torch.float32)

    @staticmethod
    def _scatter(idx: torch.Tensor, vals: torch.Tensor, shape: tuple[int, ...],
                 dtype: torch.dtype) -> torch.Tensor:
        d = shape[-1]
        out = torch.zeros((idx.shape[0], d), dtype=torch.float32, device=vals.device)
        out.scatter_(1, idx, vals)
        return out.view(shape).to(dtype)

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        x, idx, vals = self._sample(x, generator)
        p = self.new_payload(x)
        p.fields["indices"] = index_field(idx, x.shape[-1])
        p.fields["values"] = float_field(vals)
        return p

    def decode(self, payload: Payload) -> torch.Tensor:
        vals = read_floats(payload.fields["values"])
        batch = payload.batch
        k = vals.numel() // batch if batch else 0
        idx = read_indices(payload.fields["indices"], payload.dim, batch * k)
        return self._scatter(idx.view(batch, k).to(vals.device), vals.view(batch, k),
                             payload.shape, payload.dtype)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x, idx, vals = self._sample(x, generator)
        return self._scatter(idx, vals, tuple(x.shape), x.dtype)


class _RandomSubset(_IndexSparsifier):
    def _indices(self, x2: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        # A uniformly random k-subset per row: the k largest of d i.i.d. uniform keys.
        # float64 keys make ties (which topk would break by position) negligible
        # (probability ~ d^2 2^-54 per row).
        keys = uniform(tuple(x2.shape), generator, x2.device, torch.float64)
        return torch.topk(keys, self["k"], dim=1, sorted=False).indices


@register
class RandK(_RandomSubset):
    r"""Scaled rand-k: :math:`C(x) = \frac{d}{k} \sum_{i \in S} x_i e_i`, ``S`` a uniform
    random k-subset of ``{1..d}`` (Stich, Cordonnier, Jaggi, *Sparsified SGD with memory*,
    NeurIPS 2018; Beznosikov et al. 2023 — recalled).

    Derivation (derived). With :math:`\xi_i = 1[i \in S]`, :math:`P(\xi_i=1)=k/d` and
    :math:`P(\xi_i\xi_j=1)=\frac{k(k-1)}{d(d-1)}` for :math:`i \ne j`. Hence
    :math:`E C(x) = x` and :math:`E\|C(x)\|^2 = \frac{d}{k}\|x\|^2`, so

    * ``U(d/k - 1)``: :math:`E\|C-x\|^2 = (d/k - 1)\|x\|^2` (equality);
    * ``B1(d/k, d/k)``: :math:`E\|C\|^2 = \frac{d}{k}\|x\|^2 = \frac{d}{k}\langle EC, x\rangle`.
      (The generic lemma for unbiased maps gives the weaker ``alpha = 1``; ``d/k`` is the
      exact value and makes ``(1/beta) C`` land in ``B3(beta^2/alpha) = B3(d/k)``, tight.)
    * ``B2(1, d/k)``: :math:`\langle EC,x\rangle = \|x\|^2`, :math:`E\|C\|^2/(d/k)=\|x\|^2`.

    Not in B3 unless ``k > d/2`` (``E||C-x||^2 = (d/k-1)||x||^2`` must be < ``||x||^2``).
    """

    name = "randk"
    title = "Rand-k (scaled by d/k, unbiased)"
    reference = f"Stich, Cordonnier & Jaggi, NeurIPS 2018 (recalled); {_DERIVED_PER_DEFS}"
    scaled = True

    def covariance(self, v: sp.Matrix) -> sp.Matrix:
        r"""Cov[C(v) | v] for a column vector ``v`` of length ``n`` (here ``d = n``).

        Derivation (derived): :math:`E[C_iC_j] = \frac{d^2}{k^2} v_iv_j P(\xi_i\xi_j=1)`, so

        * diagonal: :math:`\frac{d^2}{k^2}\frac{k}{d} v_i^2 - v_i^2 = v_i^2 (d/k - 1)`;
        * off-diagonal: :math:`\frac{d^2}{k^2}\frac{k(k-1)}{d(d-1)} v_iv_j - v_iv_j
          = v_iv_j\left(\frac{d(k-1)}{k(d-1)} - 1\right)` (for ``d >= 2``).
        """
        n = _cov_dim(self, v)
        k = self.sym("k")
        dn = sp.Integer(n)
        diag = dn / k - 1
        off = dn * (k - 1) / (k * (dn - 1)) - 1 if n > 1 else sp.Integer(0)
        return sp.Matrix(n, n, lambda i, j: v[i] ** 2 * diag if i == j else v[i] * v[j] * off)


@register
class RandKUnscaled(_RandomSubset):
    r"""Unscaled rand-k: :math:`C(x) = \sum_{i\in S} x_i e_i` (biased).

    Derivation (derived): :math:`E C(x) = \frac{k}{d} x`, :math:`E\|C\|^2 = \frac{k}{d}\|x\|^2
    = \langle EC, x\rangle`, :math:`E\|C-x\|^2 = (1-\frac{k}{d})\|x\|^2`, hence ``B1(k/d, 1)``,
    ``B2(k/d, 1)``, ``B3(d/k)`` (Beznosikov et al. 2023, Table 1 — recalled; all equalities).
    """

    name = "randk_unscaled"
    title = "Rand-k (unscaled, biased)"
    reference = _TABLE_1
    scaled = False

    def covariance(self, v: sp.Matrix) -> sp.Matrix:
        r"""Cov[C(v)|v] (derived): diagonal :math:`v_i^2 \frac{k}{d}(1-\frac{k}{d})`,
        off-diagonal :math:`v_iv_j(\frac{k(k-1)}{d(d-1)} - \frac{k^2}{d^2})`, ``d = len(v)``."""
        n = _cov_dim(self, v)
        k = self.sym("k")
        dn = sp.Integer(n)
        diag = k / dn * (1 - k / dn)
        off = k * (k - 1) / (dn * (dn - 1)) - k**2 / dn**2 if n > 1 else sp.Integer(0)
        return sp.Matrix(n, n, lambda i, j: v[i] ** 2 * diag if i == j else v[i] * v[j] * off)


@register
class TopK(_IndexSparsifier):
    r"""Top-k: keep the ``k`` coordinates of largest magnitude (``torch.topk`` on ``|x|``;
    ties broken by ``torch.topk``). Deterministic.

    Derivation (derived): the kept set carries at least the average mass, so
    :math:`\|C(x)\|^2 \ge \frac{k}{d}\|x\|^2`; :math:`\langle C(x), x\rangle = \|C(x)\|^2`;
    :math:`\|C(x)-x\|^2 = \|x\|^2 - \|C(x)\|^2 \le (1-\frac{k}{d})\|x\|^2`. Hence
    ``B1(k/d, 1)``, ``B2(k/d, 1)``, ``B3(d/k)`` (Beznosikov et al. 2023, Table 1 —
    recalled; Stich et al. 2018, Lemma A.1 — recalled). Equality at ``|x_i|`` all equal.
    """

    name = "topk"
    title = "Top-k (largest magnitudes)"
    reference = ("Alistarh et al., NeurIPS 2018; Stich et al., NeurIPS 2018 (recalled); "
                 "constants derived, Beznosikov et al., JMLR 2023, Table 1")
    randomized = False
    scaled = False

    def _indices(self, x2: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return torch.topk(x2.abs(), self["k"], dim=1, sorted=False).indices

    def covariance(self, v: sp.Matrix) -> sp.Matrix:
        """Deterministic map: Cov[C(v)|v] = 0."""
        n = _cov_dim(self, v)
        return sp.zeros(n, n)


# =========================================================================== mask + values
class _MaskSparsifier(_Sparsifier):
    """Shared codec of the Bernoulli sparsifiers: d-bit mask + float32 kept values."""

    params = (P_PARAM,)

    def kept_fraction(self) -> sp.Expr:
        return self.sym("p")

    def bits(self) -> sp.Expr:
        """Expected bits per vector, ``d + 32 p d`` (``Payload.nbits`` is the realised size,
        ``d + 32 |S|``)."""
        return D + 32 * self.sym("p") * D

    def _sample(
        self, x: torch.Tensor, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, x2 = self._float_rows(x)
        p = self["p"]
        mask = uniform(tuple(x2.shape), generator, x2.device) < p
        vals = x2[mask]
        if self.scaled:
            vals = vals / p
        return x, mask, vals.to(torch.float32)

    @staticmethod
    def _fill(mask: torch.Tensor, vals: torch.Tensor, shape: tuple[int, ...],
              dtype: torch.dtype) -> torch.Tensor:
        out = torch.zeros(mask.shape, dtype=torch.float32, device=vals.device)
        out[mask] = vals
        return out.view(shape).to(dtype)

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        x, mask, vals = self._sample(x, generator)
        p = self.new_payload(x)
        p.fields["mask"] = mask_field(mask)
        p.fields["values"] = float_field(vals)
        return p

    def decode(self, payload: Payload) -> torch.Tensor:
        vals = read_floats(payload.fields["values"])
        mask = read_mask(payload.fields["mask"], payload.batch * payload.dim)
        mask = mask.to(vals.device).view(payload.batch, payload.dim)
        return self._fill(mask, vals, payload.shape, payload.dtype)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x, mask, vals = self._sample(x, generator)
        return self._fill(mask, vals, tuple(x.shape), x.dtype)


@register
class Bernoulli(_MaskSparsifier):
    r"""Bernoulli sparsification: :math:`C(x)_j = x_j \xi_j / p`, :math:`\xi_j` i.i.d.
    ``Bernoulli(p)`` (Wangni et al., *Gradient sparsification*, NeurIPS 2018; Beznosikov et
    al. 2023 — recalled).

    Derivation (derived): :math:`E C(x) = x`, :math:`E\|C\|^2 = \frac{1}{p}\|x\|^2`, so
    ``U(1/p - 1)`` (equality), ``B1(1/p, 1/p)`` and ``B2(1, 1/p)``. It is in B3 only when
    ``p > 1/2`` (then ``delta = p/(2p-1)``); not listed.

    ``bits()`` is the expected size ``d + 32 p d``; ``Payload.nbits`` the realised one.
    """

    name = "bernoulli"
    title = "Bernoulli sparsification (scaled by 1/p, unbiased)"
    reference = f"Wangni et al., NeurIPS 2018 (recalled); {_DERIVED_PER_DEFS}"
    scaled = True

    def covariance(self, v: sp.Matrix) -> sp.Matrix:
        r"""Cov[C(v)|v] = omega diag(v_j^2), omega = 1/p - 1 (derived: the :math:`\xi_j` are
        independent, so off-diagonals vanish; :math:`Var(x_j\xi_j/p) = x_j^2(1/p - 1)`)."""
        n = _cov_dim(self, v)
        om = 1 / self.sym("p") - 1
        return diagonal_matrix([v[i] ** 2 * om for i in range(n)])


@register
class BiasedBernoulli(_MaskSparsifier):
    r"""Unscaled Bernoulli sparsification: :math:`C(x)_j = x_j \xi_j`, :math:`\xi_j\sim`
    ``Bernoulli(p)`` (biased).

    Derivation (derived): :math:`EC = p x`, :math:`E\|C\|^2 = p\|x\|^2 = \langle EC,x\rangle`,
    :math:`E\|C-x\|^2 = (1-p)\|x\|^2`: ``B1(p, 1)``, ``B2(p, 1)``, ``B3(1/p)`` (equalities).
    """

    name = "biased_bernoulli"
    title = "Bernoulli sparsification (unscaled, biased)"
    reference = _TABLE_1
    scaled = False

    def covariance(self, v: sp.Matrix) -> sp.Matrix:
        """Cov[C(v)|v] = p(1-p) diag(v_j^2) (derived; independent coordinates)."""
        n = _cov_dim(self, v)
        p = self.sym("p")
        return diagonal_matrix([v[i] ** 2 * p * (1 - p) for i in range(n)])

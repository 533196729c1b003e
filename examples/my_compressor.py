r"""A user-defined compressor in a few lines: stochastic binary quantization.

.. math::  C(x)_i = m\,\xi_i,\qquad m = \|x\|_\infty,\qquad
           \xi_i = +1 \text{ w.p. } \tfrac12(1 + x_i/m),\ \text{else } -1.

Derivation (derived here, two lines): each coordinate has :math:`E C(x)_i = m(2p_i - 1) =
x_i`, so :math:`E C(x) = x`; and :math:`E\|C(x) - x\|^2 = \sum_i (m^2 - x_i^2) = d m^2 -
\|x\|^2 \le (d - 1)\|x\|^2` because :math:`m^2 \le \|x\|^2`. Hence ``C ∈ U(d - 1)``, with
equality at one-hot ``x``. The message is one sign bit per coordinate plus ``m`` as a float32:
``d + 32`` bits.

Try it::

    theorykit compressor examples.my_compressor:MyCompressor -p d=32 --verify
"""

from __future__ import annotations

import sympy as sp
import torch

from theorykit.compressors import CompressorSpec, D, PackedField, Payload, Unbiased
from theorykit.compressors.bitpack import pack_bits, unpack_bits


class MyCompressor(CompressorSpec):
    """Stochastic binary quantization: ``||x||_inf * (random signs)``, unbiased, U(d - 1)."""

    name = "stochastic_binary"
    title = "Stochastic binary quantization (user example)"
    reference = "examples/my_compressor.py (constants derived in the module docstring)"

    def classes(self):
        return (Unbiased(D - 1),)

    def bits(self) -> sp.Expr:
        return D + 32

    def _draw(self, x: torch.Tensor, generator: torch.Generator | None):
        x = self._prepare(x)
        m = x.abs().amax(dim=-1, keepdim=True)
        u = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        plus = u < (1 + x / m.clamp_min(torch.finfo(x.dtype).tiny)) / 2
        return x, m.to(torch.float32), plus  # m travels as float32

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        x, m, plus = self._draw(x, generator)
        p = self.new_payload(x)
        p.fields["signs"] = PackedField(pack_bits(plus.cpu()), plus.numel())
        p.fields["scale"] = PackedField(m.reshape(-1), 32 * m.numel())
        return p

    def decode(self, payload: Payload) -> torch.Tensor:
        plus = unpack_bits(payload.fields["signs"].data, payload.batch * payload.dim)
        m = payload.fields["scale"].data.view(*payload.shape[:-1], 1).to(payload.dtype)
        return torch.where(plus.view(payload.shape).to(m.device), m, -m)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x, m, plus = self._draw(x, generator)
        m = m.to(x.dtype)
        return torch.where(plus, m, -m)

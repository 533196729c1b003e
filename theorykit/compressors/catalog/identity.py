"""The identity compressor (no compression): the DSGD baseline."""

from __future__ import annotations

import sympy as sp
import torch

from theorykit.compressors.base import CompressorSpec, D, PackedField, Payload
from theorykit.compressors.classes import B1, B2, B3, Unbiased
from theorykit.compressors.registry import register


@register
class Identity(CompressorSpec):
    """C(x) = x. In U(0), B1(1, 1), B2(1, 1) and B3(1); 32 d bits (float32)."""

    name = "identity"
    title = "Identity (no compression)"
    reference = "Baseline; Beznosikov et al. (JMLR 2023) Table 1 conventions"
    randomized = False

    def classes(self):
        return (Unbiased(sp.Integer(0)), B1(sp.Integer(1), sp.Integer(1)),
                B2(sp.Integer(1), sp.Integer(1)), B3(sp.Integer(1)))

    def bits(self):
        return 32 * D

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        x = self._prepare(x)
        p = self.new_payload(x)
        p.fields["values"] = PackedField(x.to(torch.float32).reshape(-1).clone(), 32 * x.numel())
        return p

    def decode(self, payload: Payload) -> torch.Tensor:
        return payload.fields["values"].data.reshape(payload.shape).to(payload.dtype)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self._prepare(x).clone()

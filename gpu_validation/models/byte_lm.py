"""A small byte-level causal transformer language model (GPT-like).

GPT-style decoder (Radford et al. 2018/2019, *recalled*): 256 byte embeddings plus learned
position embeddings, ``depth`` pre-norm causal blocks (:class:`~gpu_validation.models.vit.
Block` with a causal mask), a final LayerNorm and a head tied to the byte embedding. The
stand-in for the GPT-2-like model of Compagnoni et al. (AISTATS 2025, scaling-rule
experiments, *recalled*), small enough for a CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from gpu_validation.models.vit import Block

__all__ = ["ByteLM"]


class ByteLM(nn.Module):
    """Causal byte LM: input ``(batch, ctx)`` int64 bytes, output logits
    ``(batch, ctx, 256)``."""

    def __init__(self, ctx: int = 64, dim: int = 64, depth: int = 2, heads: int = 4,
                 mlp: int | None = None, vocab: int = 256) -> None:
        super().__init__()
        self.ctx = ctx
        self.tok = nn.Embedding(vocab, dim)
        nn.init.normal_(self.tok.weight, std=0.02)
        self.pos = nn.Parameter(torch.randn(1, ctx, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp or 4 * dim, causal=True)
                                      for _ in range(depth)])
        self.ln = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[-1]
        h = self.tok(x) + self.pos[:, :t]
        return self.ln(self.blocks(h)) @ self.tok.weight.T

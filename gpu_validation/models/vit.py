"""A small hand-written Vision Transformer for 8x8 digits, and the transformer block it
shares with :mod:`gpu_validation.models.byte_lm`.

ViT (Dosovitskiy et al., ICLR 2021, *recalled*): the image is cut into non-overlapping
``patch x patch`` patches, each linearly embedded; a learned class token and learned
position embeddings are added; ``depth`` pre-norm blocks (multi-head self-attention and
a GELU MLP, each with a residual connection) follow; the class token's final LayerNorm
feeds a linear classifier. Attention is written out (no ``nn.MultiheadAttention``) so it
works under ``torch.func.vmap`` (per-worker gradients in one call).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Attention", "Block", "TinyViT"]


class Attention(nn.Module):
    """Multi-head scaled dot-product self-attention (optionally causal)."""

    def __init__(self, dim: int, heads: int, causal: bool = False) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        self.heads, self.causal = heads, causal
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(x).reshape(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // h)
        if self.causal:
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            att = att.masked_fill(mask, float("-inf"))
        y = att.softmax(-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, mlp: int, causal: bool = False) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, causal)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyViT(nn.Module):
    """ViT for ``size x size`` single-channel images (default 8x8 digits, 2x2 patches:
    16 tokens + class token). Input ``(batch, size, size)``; output logits."""

    def __init__(self, size: int = 8, patch: int = 2, dim: int = 32, depth: int = 2,
                 heads: int = 4, mlp: int = 64, n_classes: int = 10) -> None:
        super().__init__()
        if size % patch:
            raise ValueError(f"image size {size} is not divisible by patch {patch}")
        self.patch = patch
        n_tok = (size // patch) ** 2
        self.embed = nn.Linear(patch * patch, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, n_tok + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        p = self.patch
        x = x.reshape(b, s // p, p, s // p, p).transpose(2, 3).reshape(b, -1, p * p)
        x = torch.cat([self.cls.expand(b, -1, -1), self.embed(x)], 1) + self.pos
        return self.head(self.ln(self.blocks(x))[:, 0])

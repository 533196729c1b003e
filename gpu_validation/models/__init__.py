"""Models defined in the repository for the real-model experiments (no downloads).

* :class:`TinyViT` -- a hand-written Vision Transformer for 8x8 digits.
* :class:`ByteLM` -- a byte-level causal transformer LM (GPT-like).
* :func:`make_model` -- either by name with keyword sizes, seeded.
"""

from __future__ import annotations

from typing import Any

import torch

from gpu_validation.models.byte_lm import ByteLM
from gpu_validation.models.vit import Attention, Block, TinyViT
from theorykit.errors import InputError

__all__ = ["Attention", "Block", "ByteLM", "TinyViT", "make_model", "n_params"]


def make_model(name: str, seed: int = 0, device: torch.device | str = "cpu",
               **sizes: Any) -> torch.nn.Module:
    """``"vit"`` or ``"byte_lm"`` with keyword sizes, initialised from ``seed``."""
    cls = {"vit": TinyViT, "byte_lm": ByteLM}.get(name)
    if cls is None:
        raise InputError(f"unknown model {name!r}; known: vit, byte_lm")
    torch.manual_seed(seed)
    return cls(**sizes).to(device)


def n_params(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)

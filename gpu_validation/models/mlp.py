"""A plain ReLU MLP for flattened 8x8 digits (input ``(batch, 8, 8)`` or ``(batch, 64)``).

The model of the quantization-budget experiment (:mod:`gpu_validation.quant_budget`):
Yan et al. (TNQSGD/TUQSGD, arXiv 2402.01160 / 2402.01798, *read: abstracts*) train
neural networks under a fixed bit budget; this MLP is the smallest such network.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """``depth`` hidden ReLU layers of width ``hidden`` and a linear classifier."""

    def __init__(self, d_in: int = 64, hidden: int = 128, depth: int = 2,
                 n_classes: int = 10) -> None:
        super().__init__()
        if hidden < 1 or depth < 1:
            raise ValueError(f"hidden and depth must be >= 1, got {hidden}, {depth}")
        layers: list[nn.Module] = []
        width = d_in
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(x.shape[0], -1))

"""A small CNN with ResNet-style residual blocks for 8x8 digits.

ResNet (He, Zhang, Ren & Sun, CVPR 2016, *recalled*): each block computes
``x + F(x)`` with ``F = conv3x3 -> norm -> ReLU -> conv3x3 -> norm`` and a ReLU after the
sum; a stride-2 block halves the resolution and doubles the channels, with a 1x1
projection on the shortcut. Normalisation is GroupNorm (no running statistics, so the
model is a pure function of its parameters and works under ``torch.func.vmap`` -- the
per-worker gradients of :mod:`gpu_validation.workers`). Input ``(batch, 8, 8)`` (one
channel), output logits; global average pooling before the linear classifier. This is the
"deep net" of the error-feedback experiment (Beznosikov et al., JMLR 2023, and Richtárik,
Sokolov & Fatkhullin, NeurIPS 2021, train error feedback on ResNets; this is a small
model of that kind, not theirs).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ResBlock", "SmallResNet"]


def _norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(4, c), c)


class ResBlock(nn.Module):
    """Basic residual block ``relu(x + F(x))`` (``stride`` 2: downsample, 1x1 shortcut)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.n1 = _norm(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.n2 = _norm(c_out)
        self.short: nn.Module = nn.Identity() if stride == 1 and c_in == c_out else \
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), _norm(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.n1(self.conv1(x)))
        return torch.relu(self.short(x) + self.n2(self.conv2(y)))


class SmallResNet(nn.Module):
    """Stem conv3x3 (``width`` channels) -> ``blocks`` residual blocks at 8x8 ->
    one stride-2 block (2 ``width``, 4x4) -> ``blocks - 1`` more -> global average pool ->
    linear. ``SmallResNet(width=8, blocks=1)`` has 5 122 parameters, ``width=16,
    blocks=2`` 42 938, ``width=64, blocks=3`` 1 044 938."""

    def __init__(self, width: int = 16, blocks: int = 2, n_classes: int = 10) -> None:
        super().__init__()
        if width < 1 or blocks < 1:
            raise ValueError(f"width and blocks must be >= 1, got {width}, {blocks}")
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, 1, 1, bias=False), _norm(width),
                                  nn.ReLU())
        layers: list[nn.Module] = [ResBlock(width, width) for _ in range(blocks)]
        layers.append(ResBlock(width, 2 * width, stride=2))
        layers += [ResBlock(2 * width, 2 * width) for _ in range(blocks - 1)]
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(2 * width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layers(self.stem(x.unsqueeze(1)))
        return self.head(h.mean((2, 3)))

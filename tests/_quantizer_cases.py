"""Shared cases of the quantizer tests: the seed, a level set and the catalog specs."""

from __future__ import annotations

import torch

SEED = 20251
LEVELS5 = "-1,-0.3,0,0.3,1"

SPECS = [
    ("qsgd", {"s": 1}),
    ("qsgd", {"s": 4}),
    ("qsgd", {"s": 200}),          # codes of 8 bits, general (non fixed-point) rounding path
    ("qsgd", {"s": 1000}),         # codes of 10 bits (int32 codes, generic packer)
    ("natural_dithering", {"s": 3}),
    ("natural_dithering", {"s": 6, "r": 1.0}),
    ("unbiased_rounding", {}),
    ("unbiased_rounding", {"base": 3.0}),
    ("nearest_rounding", {}),
    ("nearest_rounding", {"base": 1.5}),
    ("truncated_uniform", {"tau": 1.5, "s": 5}),
    ("truncated_uniform", {"tau": 2.0, "s": 300}),
    ("truncated_nonuniform", {"tau": 1.0, "levels": LEVELS5}),
]
IDS = [f"{n}-{'-'.join(f'{k}{v}' for k, v in kw.items())}" for n, kw in SPECS]


def gen(seed: int = SEED) -> torch.Generator:
    return torch.Generator().manual_seed(seed)

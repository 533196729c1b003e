"""Serialising a :class:`~theorykit.compressors.base.Payload` to one byte buffer.

A payload is a set of named fields (packed bit planes, fixed-width codes, float32 values).
To send it through a collective, the fields are laid end to end as raw bytes; a small
int64 header carries each field's element count and information bits. All ranks use the
same compressor on vectors of the same dimension, so field names and dtypes are known to
the receiver from its own payload (the *template*); only the counts may differ (e.g. the
random number of coordinates Bernoulli sparsification keeps).

Provenance: engineering (theorykit); no paper formula here.
"""

from __future__ import annotations

import torch

from theorykit.compressors.base import PackedField, Payload


def header_of(payload: Payload) -> torch.Tensor:
    """``[numel_0, nbits_0, numel_1, nbits_1, ...]`` in field order (int64)."""
    vals: list[int] = []
    for f in payload.fields.values():
        vals += [f.data.numel(), f.nbits]
    return torch.tensor(vals, dtype=torch.int64)


def to_bytes(payload: Payload) -> torch.Tensor:
    """The fields' raw bytes end to end (uint8, on the payload's device)."""
    parts = [f.data.contiguous().reshape(-1).view(torch.uint8) for f in payload.fields.values()]
    if not parts:
        return torch.zeros(0, dtype=torch.uint8, device=payload.device)
    return torch.cat(parts)


def from_bytes(template: Payload, header: torch.Tensor, data: torch.Tensor) -> Payload:
    """Rebuild a payload from ``header`` and ``data`` using ``template`` for names, dtypes
    and shape (the sender's payload has the same layout as the receiver's own)."""
    out = Payload(template.compressor, template.shape, template.dtype, template.device)
    offset = 0
    h = header.tolist()
    for i, (name, f) in enumerate(template.fields.items()):
        numel, nbits = int(h[2 * i]), int(h[2 * i + 1])
        size = f.data.element_size()
        raw = data[offset: offset + numel * size]
        offset += numel * size
        out.fields[name] = PackedField(raw.clone().view(f.data.dtype), nbits)
    return out

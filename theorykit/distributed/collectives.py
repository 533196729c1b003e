r"""Compressed collectives over ``torch.distributed`` (gloo on CPU, NCCL on GPU).

:func:`compressed_mean` is the communication step of DCSGD / DSignSGD / quantized SGD run
for real across processes: each rank *encodes* its vector with a catalog compressor (real
bit packing), the packed bytes are all-gathered, and every rank *decodes* all messages and
averages them,

.. math:: \bar v = \frac1N \sum_{i=1}^N \mathcal D\big(\mathcal E_i(v_i)\big),

which is the same estimator the vectorized simulators compute with ``spec.apply``. What
crosses the wire is counted: :class:`CommStats` reports the exact information bits
(``Payload.nbits``), the bytes actually sent (buffers, padding to the largest message
included) and what a dense float32 all-reduce would have sent, and — counted on the
*receiving* side from the tensors the collective filled — the bytes that arrived from the
other ranks (data buffers, headers and size words).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

from theorykit.compressors.base import CompressorSpec
from theorykit.distributed.wire import from_bytes, header_of, to_bytes

Tensor = torch.Tensor
if TYPE_CHECKING:  # (torch builds without distributed support lack dist.ProcessGroup)
    Generator = torch.Generator | None
    """A compressor's generator (``None``: torch's default one)."""
    Group = dist.ProcessGroup | None
    """A process group (``None``: the default group)."""


@dataclass
class CommStats:
    """Running totals of one rank's communication."""

    rounds: int = 0
    payload_bits: int = 0
    """Information bits of this rank's messages (sum of ``Payload.nbits``)."""
    sent_bytes: int = 0
    """Bytes this rank put into collectives (data + header, incl. padding)."""
    dense_bytes: int = 0
    """Bytes a float32 all-reduce of the same vectors would move per rank."""
    history: list[int] = field(default_factory=list)
    received_messages: int = 0
    """Messages this rank received from the other ranks (world - 1 per round)."""
    received_data_bytes: int = 0
    """Bytes of the data buffers this rank received from the other ranks, counted on the
    receiving side from the tensors the collective filled (padding included)."""
    received_header_bytes: int = 0
    """Bytes of the headers and size words received from the other ranks."""
    received_data_min: int = -1
    """Smallest data buffer received in one message (-1: none yet)."""
    received_data_max: int = -1
    """Largest data buffer received in one message (-1: none yet)."""
    received_header_fields: int = -1
    """Number of payload fields named by the last received header (2 int64 per field)."""

    @property
    def compression_ratio(self) -> float:
        return self.dense_bytes / max(self.sent_bytes, 1)

    def as_dict(self) -> dict[str, float]:
        return {"rounds": self.rounds, "payload_bits": self.payload_bits,
                "sent_bytes": self.sent_bytes, "dense_bytes": self.dense_bytes,
                "compression_ratio": self.compression_ratio,
                "received_messages": self.received_messages,
                "received_data_bytes": self.received_data_bytes,
                "received_header_bytes": self.received_header_bytes,
                "received_data_min": self.received_data_min,
                "received_data_max": self.received_data_max,
                "received_header_fields": self.received_header_fields}


def compressed_mean(v: Tensor, spec: CompressorSpec, generator: Generator = None, *,
                    group: Group = None, stats: CommStats | None = None) -> Tensor:
    """Mean over ranks of the decoded compressed vectors ``C_i(v_i)``.

    ``v`` has shape ``(d,)`` on every rank (same d). Each rank's compressor draws from its
    own ``generator`` (seed it per rank for independent compressors, as the DCSGD SDE
    assumes)."""
    return compressed_mean_and_own(v, spec, generator, group=group, stats=stats)[0]


def compressed_mean_and_own(v: Tensor, spec: CompressorSpec, generator: Generator = None, *,
                            group: Group = None, stats: CommStats | None = None
                            ) -> tuple[Tensor, Tensor]:
    """As :func:`compressed_mean`, also returning this rank's own decoded message
    ``C_i(v_i)`` (what error feedback subtracts from its memory)."""
    rank = dist.get_rank(group)
    world = dist.get_world_size(group)
    payload = spec.encode(v.unsqueeze(0), generator)
    header = header_of(payload).to(v.device)
    data = to_bytes(payload)

    headers = [torch.empty_like(header) for _ in range(world)]
    dist.all_gather(headers, header, group=group)
    sizes = torch.tensor([data.numel()], device=v.device)
    all_sizes = [torch.empty_like(sizes) for _ in range(world)]
    dist.all_gather(all_sizes, sizes, group=group)
    max_size = int(max(int(s) for s in all_sizes))
    padded = torch.zeros(max_size, dtype=torch.uint8, device=v.device)
    padded[: data.numel()] = data
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded, group=group)

    total = torch.zeros_like(v)
    own = total
    for r, (h, buf) in enumerate(zip(headers, gathered, strict=True)):
        msg = spec.decode(from_bytes(payload, h.cpu(), buf)).reshape(v.shape).to(v.dtype)
        total += msg
        if r == rank:
            own = msg
    if stats is not None:
        stats.rounds += 1
        stats.payload_bits += payload.nbits
        sent = max_size + header.numel() * 8 + sizes.numel() * 8
        stats.sent_bytes += sent
        stats.dense_bytes += 4 * v.numel()
        stats.history.append(sent)
        for r in range(world):
            if r == rank:
                continue
            got = gathered[r].numel() * gathered[r].element_size()
            stats.received_messages += 1
            stats.received_data_bytes += got
            stats.received_header_bytes += (
                headers[r].numel() * headers[r].element_size()
                + all_sizes[r].numel() * all_sizes[r].element_size())
            stats.received_data_min = got if stats.received_data_min < 0 else min(
                stats.received_data_min, got)
            stats.received_data_max = max(stats.received_data_max, got)
            stats.received_header_fields = headers[r].numel() // 2
    return total / world, own


def dense_mean(v: torch.Tensor, *, group: dist.ProcessGroup | None = None) -> torch.Tensor:
    """The uncompressed baseline: all-reduce mean."""
    out = v.clone()
    dist.all_reduce(out, group=group)
    return out / dist.get_world_size(group)

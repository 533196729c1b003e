r"""Any theorykit compressor inside PyTorch's ``DistributedDataParallel``, in two lines.

.. code-block:: python

    from theorykit.distributed import ddp_hook
    model.register_comm_hook(*ddp_hook("qsgd", s=4))

DDP hands the gradients to its communication hook in *buckets* (flat tensors of several
parameters' gradients). The hook returned by :func:`ddp_hook` runs, per bucket ``b`` and
rank ``i``, the communication step of DCSGD (Compagnoni et al., AISTATS 2025, §2):

.. math:: g_b \leftarrow \frac1N \sum_{i=1}^N \mathcal D\big(\mathcal E_i(g_{b,i})\big),

with the catalog codec's real bit packing: the bucket is *encoded* (``Payload.nbits`` exact),
the packed bytes are all-gathered and every rank decodes all messages and averages them —
the collective is :func:`theorykit.distributed.collectives.compressed_mean_and_own`, whose
wire format is :mod:`theorykit.distributed.wire` (reused, not copied). A sign codec gives
DSignSGD's mean of signs; ``identity`` gives DDP's own averaged all-reduce.

Error feedback (``error_feedback=True``; Beznosikov et al., JMLR 2023, §5, the
Stich–Karimireddy form): each rank keeps a residual ``e`` per parameter and sends
``v_i = C(e_i + g_i)``, keeping ``e_i ← e_i + g_i − v_i``; DDP then applies the averaged
``v``. With a constant learning rate ``γ`` this is that paper's EF with memory ``γ e``. The
residual is stored per parameter, so it survives DDP's rebuilding of its buckets after the
first iteration.

Randomness: the codec's generator for bucket ``b`` at step ``t`` on rank ``r`` is seeded
with a hash of ``(seed, r, t, b)``, so ranks draw independently (the DCSGD SDE assumes
independent compressors) and a run is reproducible for a fixed seed and world size.

Communication is counted exactly in ``state.stats``, a
:class:`~theorykit.distributed.collectives.CommStats`: ``payload_bits`` (information bits,
the codec's bit formula), ``sent_bytes`` (what this rank put into the collectives: data with
padding to the largest message, plus headers and size words), ``dense_bytes`` (what DDP's
float32 all-reduce of the same buckets would send) and ``rounds`` (bucket exchanges);
``state.steps`` counts optimizer iterations, ``state.bits_per_step`` and
``state.sent_per_step`` split the totals by iteration.

Backends: gloo (CPU tensors) and NCCL (every tensor, the generator and the residual on the
bucket's device).

Provenance: engineering (theorykit) on top of the formulas cited above.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist

from theorykit.compressors.base import CompressorSpec
from theorykit.compressors.registry import make, resolve
from theorykit.distributed.collectives import CommStats, compressed_mean_and_own
from theorykit.errors import InputError

__all__ = ["DDPHookState", "ddp_hook"]

_MASK64 = (1 << 64) - 1


def _mix(*values: int) -> int:
    """A 63-bit seed from integers (splitmix64 finaliser over each value): distinct
    ``(seed, rank, step, bucket)`` tuples give unrelated generator streams."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = (h ^ (int(v) & _MASK64)) & _MASK64
        h = (h + 0x9E3779B97F4A7C15) & _MASK64
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 31
    return h >> 1


@dataclass
class DDPHookState:
    """The state DDP passes to the hook: the compressor, the counters and the residuals.

    ``stats`` is this rank's :class:`CommStats`; ``steps`` the iterations seen (a step ends
    with DDP's last bucket); ``bits_per_step`` the payload bits of each finished step."""

    compressor: str
    params: dict[str, Any]
    error_feedback: bool = False
    seed: int = 0
    process_group: dist.ProcessGroup | None = None
    stats: CommStats = field(default_factory=CommStats)
    steps: int = 0
    bits_per_step: list[int] = field(default_factory=list)
    sent_per_step: list[int] = field(default_factory=list)
    """Bytes this rank put into the collectives in each finished step."""
    step_dims: tuple[int, ...] = ()
    """Sizes (coordinates) of the buckets of the last finished step, in hook order."""
    spec: CompressorSpec | None = None
    """A spec instance given by the user (used for every bucket as is)."""
    _specs: dict[int, CompressorSpec] = field(default_factory=dict, repr=False)
    _residual: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)
    _step_bits_start: int = 0
    _step_sent_start: int = 0
    _dims: list[int] = field(default_factory=list, repr=False)

    def spec_for(self, d: int) -> CompressorSpec:
        """The codec for a bucket of ``d`` coordinates (``k`` given as a fraction in (0, 1)
        becomes ``max(1, round(k d))`` for that bucket)."""
        if self.spec is not None:
            return self.spec
        spec = self._specs.get(d)
        if spec is None:
            params = dict(self.params)
            k = params.get("k")
            if isinstance(k, float) and 0 < k < 1:
                params["k"] = max(1, round(k * d))
            try:
                spec = make(self.compressor, **params)
                spec.check_dim(d)
            except InputError as exc:
                raise InputError(f"ddp_hook: a gradient bucket of {d} coordinates: {exc} "
                                 "(give k as a fraction in (0, 1) of each bucket, or enlarge "
                                 "DDP's bucket_cap_mb)") from None
            self._specs[d] = spec
        return spec

    def residual_for(self, bucket: dist.GradBucket, buf: torch.Tensor) -> torch.Tensor:
        """The error-feedback memory of the bucket's parameters, laid out like ``buf``."""
        parts = []
        for p in bucket.parameters():
            e = self._residual.get(id(p))
            parts.append(e.reshape(-1) if e is not None
                         else torch.zeros(p.numel(), dtype=buf.dtype, device=buf.device))
        out = torch.cat(parts) if parts else torch.zeros_like(buf)
        if out.numel() != buf.numel():
            raise InputError(f"ddp_hook: bucket {bucket.index()} holds {buf.numel()} "
                             f"gradient entries but its parameters have {out.numel()}; error "
                             "feedback needs dense gradients (no sparse embeddings)")
        return out

    def store_residual(self, bucket: dist.GradBucket, e: torch.Tensor) -> None:
        offset = 0
        for p in bucket.parameters():
            n = p.numel()
            self._residual[id(p)] = e[offset: offset + n]
            offset += n

    def residual_norm(self) -> float:
        """Euclidean norm of this rank's error-feedback memory (0 without feedback)."""
        return float(sum(float(e.double().square().sum()) for e in self._residual.values())
                     ) ** 0.5

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary: compressor, parameters, steps and the communication totals."""
        return {"compressor": self.compressor if self.spec is None else self.spec.name,
                "params": dict(self.params) if self.spec is None else dict(self.spec.values),
                "error_feedback": self.error_feedback, "seed": self.seed,
                "steps": self.steps, "step_dims": list(self.step_dims),
                "bits_per_step": list(self.bits_per_step),
                "sent_per_step": list(self.sent_per_step),
                "residual_norm": self.residual_norm(), "residual_tensors": len(self._residual),
                "comm": self.stats.as_dict()}


def _hook(state: DDPHookState, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    """Encode the bucket, all-gather the packed bytes, decode and average (see module doc)."""
    group = state.process_group
    buf = bucket.buffer()
    if not buf.is_floating_point():
        raise InputError(f"ddp_hook: gradient bucket of dtype {buf.dtype} is not floating")
    v = buf.detach().reshape(-1).to(torch.float32)
    rank = dist.get_rank(group)
    gen = torch.Generator(device=v.device)
    gen.manual_seed(_mix(state.seed, rank, state.steps, bucket.index()))
    spec = state.spec_for(v.numel())
    state._dims.append(v.numel())
    if state.error_feedback:
        p = state.residual_for(bucket, v) + v
        mean, own = compressed_mean_and_own(p, spec, gen, group=group, stats=state.stats)
        state.store_residual(bucket, p - own)
    else:
        mean, _ = compressed_mean_and_own(v, spec, gen, group=group, stats=state.stats)
    if bucket.is_last():
        state.steps += 1
        state.bits_per_step.append(state.stats.payload_bits - state._step_bits_start)
        state._step_bits_start = state.stats.payload_bits
        state.sent_per_step.append(state.stats.sent_bytes - state._step_sent_start)
        state._step_sent_start = state.stats.sent_bytes
        state.step_dims, state._dims = tuple(state._dims), []
    out = mean.to(buf.dtype).reshape(buf.shape)
    fut: torch.futures.Future[torch.Tensor] = (
        torch.futures.Future(devices=[out.device]) if out.device.type == "cuda"
        else torch.futures.Future())
    fut.set_result(out)
    return fut


# DDP inspects the hook's signature for these exact objects (not the strings that
# ``from __future__ import annotations`` leaves).
_hook.__annotations__ = {"state": DDPHookState, "bucket": dist.GradBucket,
                         "return": torch.futures.Future[torch.Tensor]}


def ddp_hook(compressor: str | CompressorSpec, *, error_feedback: bool = False, seed: int = 0,
             process_group: dist.ProcessGroup | None = None, **params: Any
             ) -> tuple[DDPHookState, Any]:
    """``(state, hook)`` for ``DistributedDataParallel.register_comm_hook(state, hook)``.

    ``compressor``: a catalog name (``"qsgd"``), a ``"module.path:Object"`` reference, or a
    :class:`CompressorSpec` instance; ``**params`` are the compressor's parameters (not with
    an instance). ``k`` may be a fraction in (0, 1): then each bucket keeps that fraction of
    its coordinates. ``error_feedback`` keeps a per-parameter residual (Beznosikov et al.,
    JMLR 2023). ``seed`` is combined with the rank, the step and the bucket index for the
    codec's randomness. ``process_group``: the group DDP communicates over (default: the
    world). Bad input raises :class:`~theorykit.errors.InputError` here, not mid-training.
    """
    if not isinstance(error_feedback, bool):
        raise InputError(f"ddp_hook: error_feedback must be True or False, got "
                         f"{error_feedback!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"ddp_hook: seed must be a non-negative integer, got {seed!r}")
    if isinstance(compressor, CompressorSpec):
        if params:
            raise InputError(f"ddp_hook: parameters {sorted(params)} given with a compressor "
                             f"instance ({compressor!r}); set them on the instance")
        return DDPHookState(compressor.name, {}, error_feedback, seed, process_group,
                            spec=compressor), _hook
    if isinstance(compressor, type) and issubclass(compressor, CompressorSpec):
        raise InputError("ddp_hook: give a compressor instance or name, not the class "
                         f"{compressor.__name__}")
    if not isinstance(compressor, str) or not compressor:
        raise InputError("ddp_hook: compressor must be a catalog name, 'module:Object' or "
                         f"a CompressorSpec instance, got {compressor!r}")
    cls = resolve(compressor)  # unknown names raise InputError listing the catalog
    check = dict(params)
    k = check.get("k")
    if isinstance(k, float):
        if not 0 < k < 1:
            raise InputError(f"ddp_hook: k = {k} as a float must be a fraction in (0, 1); "
                             "give an integer for a fixed count per bucket")
        check["k"] = 1
    cls(**check)  # validate names and values now
    return DDPHookState(compressor, dict(params), error_feedback, seed, process_group), _hook

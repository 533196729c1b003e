r"""The block engine of the level codecs: ``encode``, ``decode`` and ``apply`` written once.

:class:`_BlockQuantizer` is the shared codec of the quantizers
(:mod:`~theorykit.compressors.catalog.quantizers`,
:mod:`~theorykit.compressors.catalog.truncated`), natural compression, TernGrad and the
grid roundings. A subclass gives the code width, whether a sign plane is sent, the
per-vector float sent, and two block kernels; the engine cuts the message into segments
and cache-sized blocks, draws the randomness, and packs with
:mod:`theorykit.compressors.bitpack` (codes in exactly ``w`` bits, sign planes in 1 bit,
the per-vector float as float32).


Randomness and reproducibility: a message draws one 62-bit integer from the torch generator
(or torch's global generator); on CPU the flat input is cut into segments of ``_SEGMENT``
coordinates, segment ``k`` using the NumPy PCG64 stream ``SeedSequence(seed,
spawn_key=(k,))`` (the seeding convention of :func:`theorykit.compressors.codec_utils.uniform`);
off CPU ``torch.randint`` on the device. ``encode`` and ``apply`` consume the generator
identically, so for equal generator states ``decode(encode(x, g1)) == apply(x, g2)`` bit for
bit; the result does not depend on the number of threads.

Throughput (CPU): segments are processed in parallel threads (``torch.get_num_threads()``
workers; torch and NumPy kernels release the GIL; torch's own intra-op threading is off
meanwhile), each in cache-sized blocks of ``_CHUNK`` coordinates, with int32 fixed-point
arithmetic instead of (slow) bool comparisons, uint8 codes whenever ``w <= 8``, and
packing/unpacking per segment into segment-sized code/sign buffers. No full-size
temporaries are allocated besides the output (NumPy-allocated on CPU, see
:func:`_empty_f32`); the finiteness check uses NumPy reductions. Timings against
``x.clone()`` are the benchmarks' job (``benchmarks/``).

Provenance: engineering of theorykit (derived); each codec's formula is cited in its class.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import torch

from theorykit.compressors.base import CompressorSpec, PackedField, Param, Payload
from theorykit.compressors.bitpack import (
    pack_codes,
    pack_sign_plane,
    unpack_codes,
    unpack_sign_plane,
)
from theorykit.compressors.catalog.fixed_point import _RandomBits
from theorykit.compressors.catalog.threads import _run_parallel
from theorykit.compressors.codec_utils import all_finite, message_seed
from theorykit.errors import InputError

_CHUNK = 1 << 17
"""Elements per block on CPU: a few work buffers of this size stay in cache (torch ops run
single-threaded meanwhile, see :func:`_run_parallel`)."""

_MAX_LEVELS = 1 << 20
"""Upper bound on the number of intervals ``s`` (codes of at most 21 bits)."""
INTERVALS = Param("s", int, "number of quantization intervals (s + 1 levels)", minimum=1,
                  maximum=_MAX_LEVELS)
"""The parameter ``s`` of the uniform-grid quantizers (QSGD on ``[0, 1]``, truncated uniform
on ``[-tau, tau]``): ``s`` intervals, ``s + 1`` levels."""

_SEGMENT = 1 << 20
"""Flat elements per segment on CPU: each segment has its own random stream and is encoded,
packed, unpacked and decoded independently (a multiple of 8, so its packed bytes start on a
byte boundary), which lets segments run in parallel threads with results that do not
depend on the number of threads."""


def _segments(n: int, device: torch.device) -> list[tuple[int, int]]:
    """Flat ranges ``[a, b)`` of the segments (one segment off CPU)."""
    if n == 0:
        return []
    if device.type != "cpu":
        return [(0, n)]
    return [(a, min(n, a + _SEGMENT)) for a in range(0, n, _SEGMENT)]


def _pieces(a: int, b: int, d: int, device: torch.device
            ) -> Iterator[tuple[int, int, int, int]]:
    """Blocks ``(r0, r1, c0, c1)`` of a ``(B, d)`` array covering the flat range ``[a, b)`` in
    order: whole rows (as many as fit in ``_CHUNK``) or slices of one row of at most
    ``_CHUNK`` columns; one block per segment off CPU (``[0, n)`` is then whole rows)."""
    if device.type != "cpu":
        yield 0, (b - a) // d, 0, d
        return
    pos = a
    while pos < b:
        r, c = divmod(pos, d)
        if c == 0 and b - pos >= d and d <= _CHUNK:
            rows = min((b - pos) // d, max(1, _CHUNK // d))
            yield r, r + rows, 0, d
            pos += rows * d
        else:
            c1 = min(d, c + _CHUNK, c + (b - pos))
            yield r, r + 1, c, c1
            pos += c1 - c


def _row_norms(x2: torch.Tensor, order: float, name: str) -> torch.Tensor:
    """float32 ``||x_b||_order`` per row, safe against float32 under/overflow of the powers
    (rows whose plain norm is tiny or not finite are recomputed after dividing by their
    max-abs entry). Also the finiteness check of the input (NaN and inf reach the norm).
    Raises :class:`InputError` for non-finite input or a norm beyond the float32 range."""
    n = torch.linalg.vector_norm(x2, ord=order, dim=-1)
    bad = ~torch.isfinite(n) | (n < 1e-17)
    if bool(bad.any()):
        sub = x2[bad]
        if not bool(torch.isfinite(sub).all()):
            raise InputError(f"{name}: input contains NaN or infinite values (as float32)")
        m = sub.abs().amax(dim=-1, keepdim=True)
        safe = torch.where(m > 0, m, torch.ones_like(m))
        n[bad] = torch.linalg.vector_norm(sub / safe, ord=order, dim=-1) * m.squeeze(-1)
        if not bool(torch.isfinite(n).all()):
            raise InputError(f"{name}: input norm exceeds the float32 range (the norm is "
                             "sent as float32)")
    return n


_TINY_NORM = 2.0**-100
_RESCALE = 2.0**100


def _rescale_tiny_rows(x2: torch.Tensor, row: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows with ``0 < norm < 2^-100`` multiplied by ``2^100`` (exact) with their norm, so the
    encode factors ``s/norm`` stay finite in float32; other rows untouched (no copy if none).
    ``|x_j| / norm`` is unchanged, so are the codes' probabilities."""
    tiny = (row > 0) & (row < _TINY_NORM)
    if not bool(tiny.any()):
        return x2, row
    x2 = x2.clone()
    x2[tiny] *= _RESCALE
    row = torch.where(tiny, row * _RESCALE, row)
    return x2, row


def _empty_f32(shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    """An uninitialised float32 output. On CPU allocated by NumPy, which advises huge pages
    for large arrays (``MADV_HUGEPAGE``): on a kernel with transparent huge pages in
    ``madvise`` mode the first touch of a 40 MB output then costs ~2 ms instead of ~14 ms
    of 4 KiB page faults (measured on the benchmark machine at d = 1e7)."""
    if device.type == "cpu":
        return torch.from_numpy(np.empty(shape, dtype=np.float32))
    return torch.empty(shape, dtype=torch.float32, device=device)


def _unpack_segment(packed: torch.Tensor, w: int, n: int) -> torch.Tensor:
    """The ``n`` codes of one segment: uint8 for ``w <= 8`` (a view of the payload for
    ``w = 8``), else int32 (the dtype of the encode buffers)."""
    codes = unpack_codes(packed, w, n)
    return codes if w <= 8 else codes.to(torch.int32)


def _packed_range(a: int, b: int, w: int) -> tuple[int, int]:
    """Byte range of the codes ``[a, b)`` (``a`` a multiple of 8) in a ``w``-bit packing."""
    return a * w // 8, (b * w + 7) // 8



class _BlockQuantizer(CompressorSpec):
    """Shared codec machinery of the quantizers (private; not registered).

    Subclasses define the code width :meth:`_width`, whether a sign plane is sent
    (``_signed``), the per-vector float sent (:meth:`_row_values`, ``None`` if none), and two
    block kernels: :meth:`_encode_block` (float32 coordinates and 24-bit random integers ->
    codes and sign plane) and :meth:`_decode_block` (codes and sign plane -> float32
    values). ``encode``, ``decode`` and ``apply`` are written once here, so ``apply`` is
    exactly ``decode`` after ``encode`` without the wire. Sign planes are uint8 with 255 for
    negative (int8 ``-1``) and 0 otherwise.
    """

    _signed: ClassVar[bool] = True
    _codes_key: ClassVar[str] = "codes"
    """Payload field names of the codes and of the per-vector float (wire names only)."""
    _norm_key: ClassVar[str] = "norm"
    _norm_order: ClassVar[float | None] = None
    """Order of the per-vector norm sent (None: no norm). With a norm, the finiteness check
    of the input is done by :func:`_row_norms` (NaN and inf propagate into the norm)."""

    # ------------------------------------------------------------------ hooks
    def _width(self) -> int:
        raise NotImplementedError

    def _row_values(self, x2: torch.Tensor) -> torch.Tensor | None:
        if self._norm_order is None:
            return None
        return _row_norms(x2, self._norm_order, self.name)

    def _encode_aux(self, row: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        return ()

    def _decode_aux(self, row: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        return ()

    def _encode_block(self, xb: torch.Tensor, aux: tuple[torch.Tensor, ...],
                      rnd: torch.Tensor | None, codes: torch.Tensor,
                      signs: torch.Tensor | None) -> None:
        raise NotImplementedError

    def _decode_block(self, codes: torch.Tensor, signs: torch.Tensor | None,
                      aux: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        """As :meth:`CompressorSpec._prepare` (same checks and messages, plus a float dtype
        check), with the finiteness test done by a min and a max reduction
        (:func:`~theorykit.compressors.codec_utils.all_finite`; NaN and inf propagate to
        them) instead of a full-size boolean ``isfinite`` tensor."""
        if not isinstance(x, torch.Tensor):
            raise InputError(f"{self.name}: input must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim == 0:
            raise InputError(f"{self.name}: input must have a last dimension d")
        if not x.is_floating_point():
            raise InputError(f"{self.name}: input must be a floating-point tensor, got {x.dtype}")
        self.check_dim(x.shape[-1])
        if self._norm_order is None and not all_finite(x):
            raise InputError(f"{self.name}: input contains NaN or infinite values")
        self._check_float32_range(x)
        return x

    def _code_dtype(self) -> torch.dtype:
        return torch.uint8 if self._width() <= 8 else torch.int32

    @staticmethod
    def _rows32(x: torch.Tensor) -> torch.Tensor:
        x2 = x.detach().reshape(-1, x.shape[-1])
        if x2.dtype != torch.float32:
            x2 = x2.to(torch.float32)
        return x2.contiguous()

    @staticmethod
    def _slice(aux: tuple[torch.Tensor, ...], r0: int, r1: int) -> tuple[torch.Tensor, ...]:
        return tuple(a[r0:r1] for a in aux)

    def _setup(self, x: torch.Tensor, generator: torch.Generator | None):
        """float32 rows, the message's row statistic, encode/decode row factors and seed."""
        x2 = self._rows32(x)
        row = self._row_values(x2)
        daux = self._decode_aux(row)
        if row is not None:
            x2, srow = _rescale_tiny_rows(x2, row)
            aux = self._encode_aux(srow)
        else:
            aux = self._encode_aux(row)
        seed = message_seed(generator, x2.device) if self.randomized else None
        return x2, row, aux, daux, seed

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Payload:
        x = self._prepare(x)
        d = x.shape[-1]
        b = x.numel() // d
        n = b * d
        w = self._width()
        dev = x.device
        with torch.no_grad():
            x2, row, aux, _, seed = self._setup(x, generator)
            segs = _segments(n, dev)
            cpu = dev.type == "cpu"
            packed = torch.empty(_packed_range(0, n, w)[1] if cpu else 0, dtype=torch.uint8,
                                 device=dev)
            spacked = torch.empty((n + 7) // 8 if cpu and self._signed else 0,
                                  dtype=torch.uint8, device=dev)
            whole: list[torch.Tensor] = []

            def work(k: int) -> None:
                # codes and signs of one segment only (segment-sized buffers: no full-size
                # uint8 temporaries, whose fresh pages cost about as much as the codes)
                lo, hi = segs[k]
                draw = (_RandomBits(seed, k, generator, dev) if self.randomized else None)
                cseg = torch.empty(hi - lo, dtype=self._code_dtype(), device=dev)
                sseg = (torch.empty(hi - lo, dtype=torch.uint8, device=dev) if self._signed
                        else None)
                for r0, r1, c0, c1 in _pieces(lo, hi, d, dev):
                    shape = (r1 - r0, c1 - c0)
                    f0 = r0 * d + c0 - lo
                    f1 = f0 + shape[0] * shape[1]
                    rnd = draw(*shape) if draw is not None else None
                    self._encode_block(x2[r0:r1, c0:c1], self._slice(aux, r0, r1), rnd,
                                       cseg[f0:f1].view(shape),
                                       None if sseg is None else sseg[f0:f1].view(shape))
                if cpu:  # pack this segment (it starts on a byte boundary)
                    p0, p1 = _packed_range(lo, hi, w)
                    packed[p0:p1] = pack_codes(cseg, w)
                    if sseg is not None:
                        spacked[lo // 8:(hi + 7) // 8] = pack_sign_plane(sseg)
                else:  # one segment: the whole message
                    whole.append(pack_codes(cseg, w))
                    if sseg is not None:
                        whole.append(pack_sign_plane(sseg))

            _run_parallel(list(range(len(segs))), work)
            if not cpu and whole:
                packed = whole[0]
                if self._signed:
                    spacked = whole[1]
            p = self.new_payload(x)
            if row is not None:
                p.fields[self._norm_key] = PackedField(row.contiguous(), 32 * b)
            if self._signed:
                p.fields["signs"] = PackedField(spacked, n)
            p.fields[self._codes_key] = PackedField(packed, w * n)
        return p

    def decode(self, payload: Payload) -> torch.Tensor:
        d = payload.dim
        b = payload.batch
        n = b * d
        w = self._width()
        with torch.no_grad():
            nk = self._norm_key
            row = payload.fields[nk].data if nk in payload.fields else None
            aux = self._decode_aux(row)
            pc = payload.fields[self._codes_key].data
            ps = payload.fields["signs"].data if "signs" in payload.fields else None
            dev = pc.device
            out = _empty_f32((b, d), dev)
            segs = _segments(n, dev)

            def work(k: int) -> None:
                # unpack one segment (segment-sized buffers; a view of the payload for w = 8)
                lo, hi = segs[k]
                p0, p1 = _packed_range(lo, hi, w)
                cseg = _unpack_segment(pc[p0:p1], w, hi - lo)
                sseg = (None if ps is None
                        else unpack_sign_plane(ps[lo // 8:(hi + 7) // 8], hi - lo))
                for r0, r1, c0, c1 in _pieces(lo, hi, d, dev):
                    shape = (r1 - r0, c1 - c0)
                    f0 = r0 * d + c0 - lo
                    f1 = f0 + shape[0] * shape[1]
                    self._decode_block(cseg[f0:f1].view(shape),
                                       None if sseg is None else sseg[f0:f1].view(shape),
                                       self._slice(aux, r0, r1), out[r0:r1, c0:c1])

            _run_parallel(list(range(len(segs))), work)
        return out.view(payload.shape).to(payload.dtype)

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = self._prepare(x)
        d = x.shape[-1]
        b = x.numel() // d
        n = b * d
        dev = x.device
        with torch.no_grad():
            x2, _, aux, daux, seed = self._setup(x, generator)
            out = _empty_f32((b, d), dev)
            segs = _segments(n, dev)
            m_max = min(n, _CHUNK) if dev.type == "cpu" else n

            def work(k: int) -> None:
                lo, hi = segs[k]
                draw = (_RandomBits(seed, k, generator, dev) if self.randomized else None)
                cbuf = torch.empty(m_max, dtype=self._code_dtype(), device=dev)
                sbuf = torch.empty(m_max, dtype=torch.uint8, device=dev) if self._signed else None
                for r0, r1, c0, c1 in _pieces(lo, hi, d, dev):
                    shape = (r1 - r0, c1 - c0)
                    m = shape[0] * shape[1]
                    rnd = draw(*shape) if draw is not None else None
                    cb = cbuf[:m].view(shape)
                    sb = None if sbuf is None else sbuf[:m].view(shape)
                    self._encode_block(x2[r0:r1, c0:c1], self._slice(aux, r0, r1), rnd, cb, sb)
                    self._decode_block(cb, sb, self._slice(daux, r0, r1), out[r0:r1, c0:c1])

            _run_parallel(list(range(len(segs))), work)
        return out.view(x.shape).to(x.dtype)


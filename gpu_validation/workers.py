r"""N simulated workers in one process: per-worker minibatches, injected noise, compression.

One :class:`SimulatedWorkers` holds the model's parameters as one flat vector
:math:`x\in\mathbb R^d` and runs a distributed method with N workers on one device:

1. **Per-worker gradients.** Worker i gets its own minibatch of size B; the N gradients
   :math:`\nabla f_{\gamma_i}(x)` are computed in one call with ``torch.func.vmap`` over
   ``torch.func.grad`` on CUDA, or a loop of N backward passes on CPU (faster there);
   shape ``(N, d)``.
2. **Noise injection** (optional). :math:`g_i = \nabla f_{\gamma_i}(x) + Z_i` with
   :math:`Z_{ij} = s\,T/\sqrt B`, T Student-t(ν) (ν = inf: Gaussian), drawn by
   :class:`theorykit.noise.StudentT` / :class:`~theorykit.noise.Gaussian` ``.sample`` --
   the batch-level noise of Compagnoni et al., AISTATS 2025 (heavy-tailed setting,
   *recalled*; batch convention of :mod:`theorykit.noise`).
3. **Compression.** Each worker compresses with the catalog spec and *its own*
   ``torch.Generator`` (independent randomness per worker, as in
   :mod:`theorykit.distributed`). ``codec="encode"`` really packs each message
   (``spec.encode`` -> ``decode``) and counts ``payload.nbits``; ``codec="apply"`` uses
   ``spec.apply`` (same law, no packing) and counts the bits of one encoded message.
4. **The method** (the update :math:`x \leftarrow x - \Delta`):

   * ``dsgd``: :math:`\Delta = \eta\,\frac1N\sum_i g_i` (:class:`theorykit.methods.DSGD`).
   * ``dcsgd`` / ``dcgd``: :math:`\Delta = \eta\,\frac1N\sum_i C_i(g_i)`
     (:class:`theorykit.methods.DCSGD`; Compagnoni et al. 2025, Thm 1 [recalled]; ``dcgd``
     is the same update with a biased compressor, Beznosikov et al. 2023 [recalled]).
   * ``dsignsgd``: :math:`\Delta = \eta\,\frac1N\sum_i \operatorname{sign}(g_i)` or, with
     ``vote="majority"``, :math:`\eta\,\operatorname{sign}(\sum_i\operatorname{sign}(g_i))`
     -- :meth:`theorykit.methods.DSignSGD.direction` is called as is.
   * ``ef``: error feedback (Stich & Karimireddy form, as
     :class:`theorykit.methods.biased.EF`): :math:`p_i = e_i + \eta g_i`,
     :math:`v_i = C_i(p_i)`, :math:`e_i \leftarrow p_i - v_i`,
     :math:`\Delta = \frac1N\sum_i v_i`.
   * ``ef21``: EF21 (Richtárik, Sokolov & Fatkhullin 2021, as
     :class:`theorykit.methods.biased.EF21`, ``init_mode="full"``): first step
     :math:`h_i = g_i`, then :math:`h_i \leftarrow h_i + C_i(g_i - h_i)`;
     :math:`\Delta = \eta\,\frac1N\sum_i h_i`.

   The DCSGD / EF / EF21 formulas are re-implemented here (not via ``direction``/
   ``update``) only because theorykit's torch faces take one generator for all workers,
   and here each worker has its own.

5. **SVAG** (``svag_l`` = l > 1; Li, Malladi & Arora, NeurIPS 2021, *recalled*, extended
   here, *derived*): see :meth:`SimulatedWorkers.direction` and ``gpu_validation/svag.py``.
   With two independent draws :math:`D^{(1)}, D^{(2)}` of the method's *aggregated*
   direction (independent minibatches, injected noise and compressor randomness) the step
   uses :math:`D_l = \frac{1+r}2 D^{(1)} + \frac{1-r}2 D^{(2)}`, :math:`r = \sqrt{2l-1}`:
   :math:`E D_l = E D` and :math:`\operatorname{Cov} D_l = l\operatorname{Cov} D`
   (stateless methods only: dsgd, dcsgd, dcgd, dsignsgd).

Usage::

    w = SimulatedWorkers(model, loss, WorkerSetup(n_workers=4, batch=8, method="dcsgd",
                         compressor="randk", params={"k": 100}, noise="student-t", nu=3,
                         noise_scale=0.01), seed=0)
    info = w.step(xb, yb, lr=0.05)     # xb: (N, B, ...), yb: (N, B, ...)
    w.evaluate(x_test, y_test)         # loss of the current parameters
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch.func import functional_call, grad_and_value, vmap

from theorykit.errors import InputError

__all__ = ["METHODS", "Curve", "SimulatedWorkers", "StepInfo", "WorkerSetup",
           "gradient_noise_scale", "make_compressor", "randk_if_dcsgd", "svag_weights", "train",
           "uniform_minibatches"]

METHODS = ("dsgd", "dcsgd", "dcgd", "dsignsgd", "ef", "ef21")
STATELESS = ("dsgd", "dcsgd", "dcgd", "dsignsgd")


def make_compressor(compressor: Any, params: dict[str, Any] | None = None) -> Any:
    """A compressor spec from a catalog name, ``"module:Object"`` or a spec instance."""
    from theorykit.compressors.base import CompressorSpec
    from theorykit.compressors.registry import make, resolve

    params = dict(params or {})
    if isinstance(compressor, CompressorSpec):
        if params:
            raise InputError("parameters given with a compressor instance")
        return compressor
    if not isinstance(compressor, str):
        raise InputError(f"not a compressor: {compressor!r}")
    if ":" in compressor:
        return resolve(compressor)(**params)
    return make(compressor, **params)


def svag_weights(ell: float) -> tuple[float, float]:
    r"""SVAG's weights :math:`((1+r)/2, (1-r)/2)`, :math:`r=\sqrt{2\ell-1}` (sum 1, sum of
    squares :math:`\ell`) -- Li, Malladi & Arora, NeurIPS 2021 [recalled]."""
    if not ell >= 1:
        raise InputError(f"SVAG l must be >= 1, got {ell}")
    r = math.sqrt(2 * ell - 1)
    return (1 + r) / 2, (1 - r) / 2


@dataclass
class WorkerSetup:
    """What the N workers do (see the module doc). ``noise=None`` injects nothing;
    ``"student-t"`` with ``nu=math.inf`` is Gaussian with sigma = ``noise_scale``."""

    n_workers: int
    batch: int
    method: str = "dsgd"
    compressor: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    noise: Literal["student-t", "gaussian"] | None = None
    nu: float = math.inf
    noise_scale: float = 0.0
    vote: Literal["mean", "majority"] = "mean"
    codec: Literal["apply", "encode"] = "apply"
    svag_l: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}; known: {', '.join(METHODS)}")
        for k in ("n_workers", "batch"):
            if int(getattr(self, k)) < 1:
                raise InputError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.method in ("dcsgd", "dcgd", "ef", "ef21") and self.compressor is None:
            raise InputError(f"{self.method} needs a compressor")
        if self.noise not in (None, "student-t", "gaussian"):
            raise InputError(f"noise must be None, 'student-t' or 'gaussian', got "
                             f"{self.noise!r}")
        if self.noise is not None and not (self.noise_scale >= 0 and self.nu > 0):
            raise InputError("noise needs noise_scale >= 0 and nu > 0")
        if self.svag_l != 1 and self.method not in STATELESS:
            raise InputError(f"SVAG is defined here for {', '.join(STATELESS)} only")
        svag_weights(self.svag_l)

    def describe(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("n_workers", "batch", "method", "params", "noise",
                                           "nu", "noise_scale", "vote", "codec", "svag_l")}
        d["compressor"] = None if self.compressor is None else str(self.compressor)
        return d


@dataclass
class StepInfo:
    """One step: the mean minibatch loss over workers (before the step), the bits sent by
    all workers this round and what a dense float32 round would send (``dense_bits``)."""

    loss: float
    bits: int
    dense_bits: int


class SimulatedWorkers:
    """N workers sharing one model (see the module doc). ``loss(outputs, targets)`` must
    return the mean loss of a minibatch. ``use_vmap``: per-worker gradients with
    ``torch.func.vmap`` (default on CUDA) or a loop (default on CPU)."""

    def __init__(self, model: torch.nn.Module,
                 loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                 setup: WorkerSetup, *, seed: int = 0, use_vmap: bool | None = None
                 ) -> None:
        self.model, self.loss_fn, self.setup = model, loss, setup
        params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        self.names = list(params)
        self.shapes = [p.shape for p in params.values()]
        self.numels = [p.numel() for p in params.values()]
        self.device = next(model.parameters()).device
        self.theta = torch.cat([p.detach().reshape(-1) for p in params.values()]).clone()
        self.d = int(self.theta.numel())
        self.spec = None if setup.compressor is None else \
            make_compressor(setup.compressor, setup.params)
        n = setup.n_workers
        self.comp_gens = [torch.Generator(device=self.device).manual_seed(
            seed * 1_000_003 + 7919 * (i + 1)) for i in range(n)]
        self.noise_gen = torch.Generator(device=self.device).manual_seed(seed * 1_000_003 + 1)
        self.noise = None
        if setup.noise is not None and setup.noise_scale > 0:
            from theorykit.noise import Gaussian, StudentT

            self.noise = (Gaussian(sigma=setup.noise_scale)
                          if setup.noise == "gaussian" or math.isinf(setup.nu)
                          else StudentT(nu=setup.nu, scale=setup.noise_scale))
        self.state: dict[str, torch.Tensor] = {}
        self.steps = 0
        self._msg_bits: int | None = None
        self._vmapped = vmap(grad_and_value(self._loss), in_dims=(None, 0, 0))
        self.use_vmap = self.device.type == "cuda" if use_vmap is None else use_vmap

    # ------------------------------------------------------------------ parameters
    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        return {n: t.view(s) for n, t, s in
                zip(self.names, theta.split(self.numels), self.shapes, strict=True)}

    def _loss(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(functional_call(self.model, self.unflatten(theta), (x,)), y)

    def sync_model(self) -> torch.nn.Module:
        """Copy the flat parameters into the model (for evaluation with the module)."""
        with torch.no_grad():
            for p, t in zip((p for p in self.model.parameters() if p.requires_grad),
                            self.unflatten(self.theta).values(), strict=True):
                p.copy_(t)
        return self.model

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor, chunk: int = 1024) -> float:
        """Mean loss of the current parameters on ``(x, y)`` (chunked)."""
        params = self.unflatten(self.theta)
        tot, n = 0.0, 0
        for i in range(0, x.shape[0], chunk):
            xb, yb = x[i:i + chunk], y[i:i + chunk]
            tot += float(self.loss_fn(functional_call(self.model, params, (xb,)), yb)) * len(xb)
            n += len(xb)
        return tot / n

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.model, self.unflatten(self.theta), (x,))

    # ------------------------------------------------------------------ gradients
    def grads(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Per-worker stochastic gradients ``(N, d)`` (minibatch + injected noise) and the
        mean minibatch loss. ``x``: ``(N, B, ...)``, ``y``: ``(N, B, ...)``."""
        n = self.setup.n_workers
        if x.shape[0] != n or x.shape[1] != self.setup.batch:
            raise InputError(f"batches must have shape (N={n}, B={self.setup.batch}, ...), "
                             f"got {tuple(x.shape)}")
        if self.use_vmap:
            g, losses = self._vmapped(self.theta, x, y)
        else:
            gs, ls = [], []
            for i in range(n):
                th = self.theta.detach().requires_grad_(True)
                li = self._loss(th, x[i], y[i])
                gs.append(torch.autograd.grad(li, th)[0])
                ls.append(li.detach())
            g, losses = torch.stack(gs), torch.stack(ls)
        if self.noise is not None:
            z = self.noise.sample(1, n, self.d, batch=self.setup.batch,
                                  generator=self.noise_gen, device=self.device,
                                  dtype=g.dtype)[0]
            g = g + z
        return g, float(losses.mean())

    def _compress(self, v: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Each worker compresses its row of ``v`` (N, d) with its own generator."""
        assert self.spec is not None
        out, bits = [], 0
        for i, gen in enumerate(self.comp_gens):
            if self.setup.codec == "encode":
                pl = self.spec.encode(v[i:i + 1], gen)
                out.append(self.spec.decode(pl).reshape(1, -1))
                bits += int(pl.nbits)
            else:
                out.append(self.spec.apply(v[i:i + 1], gen))
        if self.setup.codec == "apply":
            if self._msg_bits is None:
                probe = torch.Generator(device=self.device).manual_seed(12345)
                self._msg_bits = int(self.spec.encode(v[:1], probe).nbits)
            bits = self._msg_bits * len(self.comp_gens)
        return torch.cat(out, 0).to(v.dtype), bits

    # ------------------------------------------------------------------ methods
    def _direction(self, g: torch.Tensor) -> tuple[torch.Tensor, int]:
        """The aggregated direction D of a stateless method from per-worker grads."""
        m = self.setup.method
        n = self.setup.n_workers
        if m == "dsgd":
            return g.mean(0), 32 * n * self.d
        if m in ("dcsgd", "dcgd"):
            c, bits = self._compress(g)
            return c.mean(0), bits
        from theorykit.methods import DSignSGD

        return DSignSGD(self.setup.vote).direction(g[None])[0], n * self.d

    def direction(self, x: torch.Tensor, y: torch.Tensor,
                  x2: torch.Tensor | None = None, y2: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, float, int]:
        r"""The aggregated direction of a stateless method (SVAG-combined when l > 1:
        :math:`D_l = w_1 D(x, y) + w_2 D(x_2, y_2)` with :func:`svag_weights`, two
        independent draws), the loss and the bits sent."""
        g, loss = self.grads(x, y)
        dvec, bits = self._direction(g)
        if self.setup.svag_l != 1:
            if x2 is None or y2 is None:
                raise InputError("SVAG needs a second, independent batch (x2, y2)")
            g2, loss2 = self.grads(x2, y2)
            d2, bits2 = self._direction(g2)
            w1, w2 = svag_weights(self.setup.svag_l)
            dvec, bits, loss = w1 * dvec + w2 * d2, bits + bits2, 0.5 * (loss + loss2)
        return dvec, loss, bits

    def step(self, x: torch.Tensor, y: torch.Tensor, lr: float,
             x2: torch.Tensor | None = None, y2: torch.Tensor | None = None) -> StepInfo:
        """One step of the method with learning rate ``lr`` (SVAG: pass ``lr`` already
        divided by l and a second batch ``x2, y2``)."""
        m = self.setup.method
        dense = 32 * self.d * self.setup.n_workers
        if m in STATELESS:
            dvec, loss, bits = self.direction(x, y, x2, y2)
            self.theta -= lr * dvec
        else:
            g, loss = self.grads(x, y)
            if m == "ef":
                e = self.state.get("e", torch.zeros_like(g))
                p = e + lr * g
                v, bits = self._compress(p)
                self.state["e"] = p - v
                self.theta -= v.mean(0)
            else:  # ef21
                if "h" not in self.state:
                    h, bits = g.clone(), dense
                else:
                    c, bits = self._compress(g - self.state["h"])
                    h = self.state["h"] + c
                self.state["h"] = h
                self.theta -= lr * h.mean(0)
        self.steps += 1
        return StepInfo(loss, int(bits), dense)

    def finite(self) -> bool:
        """Whether every parameter is still finite."""
        return bool(torch.isfinite(self.theta).all())


@dataclass
class Curve:
    """Evaluated loss at checkpoints (``at``: steps), the training-loss trace and whether
    the run stayed finite."""

    at: list[int]
    loss: list[float]
    train_loss: list[float]
    bits: int
    diverged: bool


def train(workers: SimulatedWorkers,
          sample: Callable[[], tuple[torch.Tensor, torch.Tensor]], steps: int,
          lr: float, *, checkpoints: list[int],
          evaluate: Callable[[SimulatedWorkers], float],
          blowup: float = 1e4) -> Curve:
    """Run ``steps`` steps (``sample()`` gives one round's per-worker batches; SVAG draws
    a second one), evaluating at the step counts in ``checkpoints`` (0 = the start). A
    non-finite parameter or an evaluated loss above ``blowup`` stops the run
    (``diverged``; the remaining checkpoints are recorded as ``inf``)."""
    want = sorted(set(int(c) for c in checkpoints))
    at, loss, tr = [], [], []
    bits = 0
    svag = workers.setup.svag_l != 1
    diverged = False
    for k in range(steps + 1):
        if want and k == want[0]:
            want.pop(0)
            v = evaluate(workers) if workers.finite() else math.inf
            at.append(k)
            loss.append(v if math.isfinite(v) else math.inf)
            if not math.isfinite(v) or v > blowup:
                diverged = True
                break
        if k == steps:
            break
        x, y = sample()
        if svag:
            x2, y2 = sample()
            info = workers.step(x, y, lr, x2, y2)
        else:
            info = workers.step(x, y, lr)
        bits += info.bits
        tr.append(info.loss)
    while want:
        at.append(want.pop(0))
        loss.append(math.inf)
    return Curve(at, loss, tr, bits, diverged)


def uniform_minibatches(x: torch.Tensor, y: torch.Tensor, n_workers: int, batch: int,
                        seed: int, device: torch.device
                        ) -> Callable[[], tuple[torch.Tensor, torch.Tensor]]:
    """``sample()`` for :func:`train`: each of the ``n_workers`` workers draws ``batch``
    training examples uniformly with replacement (one generator, seeded with ``seed``)."""
    gen = torch.Generator(device=device).manual_seed(seed)
    n = y.numel()

    def sample() -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, n, (n_workers, batch), generator=gen, device=device)
        return x[idx], y[idx]

    return sample


def gradient_noise_scale(model: torch.nn.Module,
                         loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                         x: torch.Tensor, y: torch.Tensor, rms: float, batch: int,
                         seed: int) -> float:
    """The per-sample noise scale ``s`` that makes the injected batch noise ``s T/sqrt(B)``
    (T of unit scale, B = ``batch``) ``rms`` times the root-mean-square coordinate of the
    full-data gradient at the model's current parameters."""
    probe = SimulatedWorkers(model, loss, WorkerSetup(1, y.numel()), seed=seed)
    g0 = probe.grads(x[None], y[None])[0][0]
    return rms * float(g0.pow(2).mean().sqrt()) * math.sqrt(batch)


def randk_if_dcsgd(method: str, k_frac: float, d: int) -> tuple[str | None, dict[str, Any]]:
    """``(compressor, params)`` of :class:`WorkerSetup`: rand-k with
    ``k = max(1, int(k_frac * d))`` for ``dcsgd``, no compressor for the other methods."""
    if method == "dcsgd":
        return "randk", {"k": max(1, int(k_frac * d))}
    return None, {}

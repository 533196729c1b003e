r"""DIANA (Mishchenko, Gorbunov, Takáč, Richtárik, *Distributed Learning with Compressed
Gradient Differences*, arXiv:1901.09269, 2019, Algorithm 1 [recalled]): each worker keeps a
shift :math:`h_i` (``h_i^0 = 0``) and compresses the *difference* to it,

.. math:: \Delta_i = \mathcal C(g_i - h_i),\quad h_i \leftarrow h_i + a\,\Delta_i,\qquad
          D = h + \tfrac1N\textstyle\sum_i \Delta_i,\quad h \leftarrow h + a\,\tfrac1N
          \textstyle\sum_i\Delta_i,\qquad x \leftarrow x - \eta D,

with :math:`h = \frac1N\sum_i h_i` kept by the server. For an unbiased compressor in
U(omega) the shift step :math:`a \le 1/(\omega + 1)` (the paper's condition, default
:math:`a = 1/(\omega+1)`) makes :math:`h_i \to \nabla f_i(x^*)`, so the compression variance
vanishes at the optimum: unlike DCSGD, DIANA with exact gradients converges to x* on
heterogeneous functions. *Derived* here: at a fixed gradient the error :math:`e = g_i - h_i`
evolves as :math:`E\|e^+\|^2 = (1 - 2a + a^2(1 + \omega))\|e\|^2` (exactly, for compressors
with :math:`E\|C(v)\|^2 = (1+\omega)\|v\|^2`), which contracts iff :math:`a < 2/(1+\omega)`.
No SDE is known in x alone (the shifts are state): :meth:`moments` raises.
"""

from __future__ import annotations

from typing import Any

import torch

from theorykit.compressors.base import CompressorSpec
from theorykit.errors import InputError
from theorykit.methods.base import Method, Send
from theorykit.methods.registry import register

__all__ = ["DIANA", "shift_contraction"]


def shift_contraction(a: float, omega: float) -> float:
    """``E||e+||^2 / ||e||^2 = 1 - 2a + a^2 (1 + omega)`` for the shift error (derived)."""
    return 1 - 2 * a + a * a * (1 + omega)


@register
class DIANA(Method):
    """DIANA: compressed gradient differences to learned per-worker shifts."""

    name = "diana"
    label = "DIANA"
    title = "DIANA (compressed gradient differences)"
    reference = ("Mishchenko, Gorbunov, Takáč, Richtárik, arXiv:1901.09269, 2019, "
                 "Algorithm 1 [recalled]")
    update_latex = (r"\Delta_i = \mathcal{C}(g_i - h_i),\ h_i \leftarrow h_i + a\Delta_i,\ "
                    r"x_{k+1} = x_k - \eta\Big(h + \frac{1}{N}\sum_i \Delta_i\Big)")
    stateful = True
    needs_compressor = True

    def __init__(self, compressor: CompressorSpec, shift_step: float | None = None) -> None:
        if not isinstance(compressor, CompressorSpec):
            raise InputError(f"DIANA needs a compressor (a CompressorSpec), got "
                             f"{compressor!r}")
        if shift_step is not None and not 0 < float(shift_step) <= 2:
            raise InputError(f"DIANA shift_step must be in (0, 2], got {shift_step!r}")
        if shift_step is None and not compressor.is_unbiased:
            raise InputError(f"DIANA's default shift step 1/(omega+1) needs an unbiased "
                             f"compressor; {compressor.name} is not: pass shift_step")
        self.compressor = compressor
        self.shift_step = None if shift_step is None else float(shift_step)

    def step_size(self, d: int) -> float:
        """The shift step a: given, or ``1/(omega + 1)`` at dimension d."""
        if self.shift_step is not None:
            return self.shift_step
        from theorykit.methods.dcsgd import compressor_omega

        return 1.0 / (float(compressor_omega(self.compressor, d)) + 1.0)

    def init_worker(self, grads: torch.Tensor,
                    generator: torch.Generator | None = None) -> dict[str, Any]:
        return {"h": torch.zeros_like(grads)}

    def worker_step(self, state: Any, grads: torch.Tensor,
                    generator: torch.Generator | None = None, *, lr: Any = 1.0,
                    send: Send | None = None) -> tuple[torch.Tensor, Any]:
        send = send or self.sender(generator)
        delta = send(grads - state["h"])
        return delta, {"h": state["h"] + self.step_size(grads.shape[-1]) * delta}

    def server_step(self, messages: torch.Tensor, state: Any = None
                    ) -> tuple[torch.Tensor, Any]:
        """``D = h + mean(Delta)``, ``h += a mean(Delta)``."""
        mean = messages.mean(dim=-2)
        h = torch.zeros_like(mean) if state is None else state
        return h + mean, h + self.step_size(messages.shape[-1]) * mean

    def __repr__(self) -> str:
        return f"DIANA({self.compressor!r}, shift_step={self.shift_step!r})"

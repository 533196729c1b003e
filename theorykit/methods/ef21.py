r"""EF21 (Richtárik, Sokolov, Fatkhullin, *EF21: A New, Simpler, Theoretically Better, and
Practically Faster Error Feedback*, NeurIPS 2021, Algorithm 1 [recalled]):

.. math:: x^{k+1} = x^k - \eta\, \tfrac1N \textstyle\sum_i g_i^k,\qquad
          c_i^k = \mathcal C(\nabla f_i(x^{k+1}) - g_i^k),\quad g_i^{k+1} = g_i^k + c_i^k,

with :math:`g_i^0 = \nabla f_i(x^0)` (``init_mode="full"``, sent dense once) or
:math:`\mathcal C(\nabla f_i(x^0))` (``"compressed"``). With stochastic gradients the same
update is EF21-SGD. Workers send :math:`c_i`; the server mirrors every :math:`g_i` (it knows
them from the messages) and its direction is their mean. No SDE is known in x alone (the
g_i are state): :meth:`moments` raises.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from theorykit.compressors.base import CompressorSpec
from theorykit.errors import InputError
from theorykit.methods.base import Method, Send
from theorykit.methods.registry import register

__all__ = ["EF21"]


@register
class EF21(Method):
    """EF21: workers keep g_i and send compressed corrections C(g_i^new - g_i)."""

    name = "ef21"
    label = "EF21"
    title = "EF21 error feedback"
    reference = ("Richtárik, Sokolov, Fatkhullin, NeurIPS 2021, Algorithm 1 [recalled]")
    update_latex = (r"x_{k+1} = x_k - \frac{\eta}{N}\sum_i g_i,\ "
                    r"g_i \leftarrow g_i + \mathcal{C}(\nabla f_i(x_{k+1}) - g_i)")
    stateful = True
    needs_compressor = True

    def __init__(self, compressor: CompressorSpec,
                 init_mode: Literal["full", "compressed"] = "full") -> None:
        if not isinstance(compressor, CompressorSpec):
            raise InputError(f"EF21 needs a compressor (a CompressorSpec), got {compressor!r}")
        if init_mode not in ("full", "compressed"):
            raise InputError(f"EF21 init_mode must be 'full' or 'compressed', got "
                             f"{init_mode!r}")
        self.compressor = compressor
        self.init_mode = init_mode

    def init_worker(self, grads: torch.Tensor,
                    generator: torch.Generator | None = None) -> dict[str, Any]:
        """``g_i^0``: the first gradient (``full``) or its compression; the first worker
        step sends it as is."""
        g = grads.clone() if self.init_mode == "full" else self.compress(grads, generator)
        return {"g": g, "fresh": True}

    def worker_step(self, state: Any, grads: torch.Tensor,
                    generator: torch.Generator | None = None, *, lr: Any = 1.0,
                    send: Send | None = None) -> tuple[torch.Tensor, Any]:
        send = send or self.sender(generator)
        g = state["g"]
        if state.get("fresh"):
            return send(g, dense=True), {"g": g, "fresh": False}
        c = send(grads - g)
        return c, {"g": g + c, "fresh": False}

    def server_step(self, messages: torch.Tensor, state: Any = None
                    ) -> tuple[torch.Tensor, Any]:
        """Mirrors ``g_i`` (the first messages, then ``g_i + c_i``); direction their mean."""
        mirrors = messages if state is None else state + messages
        return mirrors.mean(dim=-2), mirrors

    def __repr__(self) -> str:
        return f"EF21({self.compressor!r}, init_mode={self.init_mode!r})"

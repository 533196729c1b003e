r"""Error feedback (EF), the Stich–Karimireddy form analysed by Beznosikov, Horváth,
Richtárik, Safaryan, *On Biased Compression for Distributed Learning*, JMLR 24(276), 2023,
Section 5 [recalled]: with :math:`e_i^0 = 0`,

.. math:: v_i^k = \mathcal C(e_i^k + \eta g_i^k),\quad
          e_i^{k+1} = e_i^k + \eta g_i^k - v_i^k,\quad
          x^{k+1} = x^k - \tfrac1N \textstyle\sum_i v_i^k.

The message carries the step size, so the displacement is the mean message itself. No SDE
is known in x alone (the memories e_i are state): :meth:`moments` raises.
"""

from __future__ import annotations

from typing import Any

import torch

from theorykit.compressors.base import CompressorSpec
from theorykit.errors import InputError
from theorykit.methods.base import Method, Send, lr_like
from theorykit.methods.registry import register

__all__ = ["EF"]


@register
class EF(Method):
    """Error feedback: each worker compresses its memory plus the scaled gradient."""

    name = "ef"
    label = "EF"
    title = "Error feedback (Stich-Karimireddy form)"
    reference = "Beznosikov et al., JMLR 24(276), 2023, Section 5 [recalled]"
    update_latex = (r"v_i = \mathcal{C}(e_i + \eta g_i),\ e_i \leftarrow e_i + \eta g_i - v_i,"
                    r"\ x_{k+1} = x_k - \frac{1}{N}\sum_i v_i")
    stateful = True
    needs_compressor = True

    def __init__(self, compressor: CompressorSpec) -> None:
        if not isinstance(compressor, CompressorSpec):
            raise InputError(f"EF needs a compressor (a CompressorSpec), got {compressor!r}")
        self.compressor = compressor

    def init_worker(self, grads: torch.Tensor,
                    generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        return {"e": torch.zeros_like(grads)}

    def worker_step(self, state: Any, grads: torch.Tensor,
                    generator: torch.Generator | None = None, *, lr: Any = 1.0,
                    send: Send | None = None) -> tuple[torch.Tensor, Any]:
        send = send or self.sender(generator)
        p = state["e"] + lr_like(lr, grads) * grads
        v = send(p)
        return v, {"e": p - v}

    def displacement(self, direction: torch.Tensor, lr: Any) -> torch.Tensor:
        """The mean message ``(1/N) sum_i v_i`` (it already carries eta)."""
        return direction

    def __repr__(self) -> str:
        return f"EF({self.compressor!r})"

r"""numpy and torch implementations of the special functions the SymPy printers lack, used by
the lambdify adapter (:mod:`theorykit.sde.lambdify`, through :mod:`theorykit.sde.backends`).

* numpy: the Student-t hypergeometric function :math:`{}_2F_1(\tfrac12, \beta; \tfrac32; -w)`
  for large w from the regularized incomplete beta function (scipy's ``hyp2f1`` returns NaN
  there), element-wise ``Max``/``Min``.
* torch: ``erfc``, ``gamma`` (``exp(lgamma)`` with its sign), ``erfinv``, ``Heaviside``,
  ``Max``/``Min``, and the Student-t :math:`{}_2F_1(\tfrac12, \beta; \tfrac32; -w)` (torch has
  none) by an exact reduction formula for integer :math:`2\beta` and Gauss--Legendre
  quadrature otherwise (*derived*: with :math:`s = \tan\theta/\sqrt w`,
  :math:`{}_2F_1(\tfrac12,\beta;\tfrac32;-w) = \int_0^1 (1 + w s^2)^{-\beta} ds =
  w^{-1/2}\int_0^{\arctan\sqrt w}\cos^{2\beta-2}\theta\, d\theta`).

:data:`NUMPY_FUNCS` and :data:`TORCH_FUNCS` map the adapter's function names
(``_tk_hyp2f1``, ...) to these implementations.
"""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
import torch

from theorykit.errors import DerivationError
from theorykit.sde.arrays import as_tensor

__all__ = ["NUMPY_FUNCS", "TORCH_FUNCS"]


# ------------------------------------------------------------------ numpy implementations
def _np_hyp2f1(a, b, c, z):
    """scipy's hyp2f1, except the Student-t family 2F1(1/2, β; 3/2; -w), w >= 1, which is
    taken from the regularized incomplete beta function (scipy's hyp2f1 returns NaN there for
    large β): 2F1 = I_{w/(1+w)}(1/2, β - 1/2) sqrt(π) Γ(β - 1/2) / (2 sqrt(w) Γ(β))
    (*derived* from 2 F_ν(z) - 1 = sign(z) I_{z²/(ν+z²)}(1/2, ν/2), ν = 2β - 1)."""
    from scipy.special import betainc, gammaln, hyp2f1

    a, b, c = float(a), float(b), float(c)
    z = np.asarray(z, dtype=float)
    if c != 1.5 or 0.5 not in (a, b) or (b if a == 0.5 else a) <= 0.5:
        return hyp2f1(a, b, c, z)
    beta = b if a == 0.5 else a
    w = np.maximum(-z, 0.0)
    big = w >= 1.0
    ws = np.where(big, w, 1.0)
    tail = (betainc(0.5, beta - 0.5, ws / (1 + ws)) * np.exp(
        0.5 * np.log(np.pi) + gammaln(beta - 0.5) - gammaln(beta)) / (2 * np.sqrt(ws)))
    return np.where(big & (z <= 0), tail, hyp2f1(a, b, c, np.where(big, 0.0, z)))


def _np_max(*args):
    return reduce(np.maximum, args)


def _np_min(*args):
    return reduce(np.minimum, args)


NUMPY_FUNCS = {"_tk_hyp2f1": _np_hyp2f1, "_tk_max": _np_max, "_tk_min": _np_min}


# ------------------------------------------------------------------ torch implementations
_GL_CACHE: dict[tuple[int, str, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}


def _gauss_legendre(n: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    key = (n, str(like.device), like.dtype)
    if key not in _GL_CACHE:
        x, w = np.polynomial.legendre.leggauss(n)
        _GL_CACHE[key] = (torch.tensor((x + 1) / 2, dtype=like.dtype, device=like.device),
                          torch.tensor(w / 2, dtype=like.dtype, device=like.device))
    return _GL_CACHE[key]


def _cos_power_integral(n: float, theta: torch.Tensor) -> torch.Tensor:
    """I_n(theta) = int_0^theta cos^n(u) du, element-wise, for theta in [0, pi/2), n > -1.

    Integer n: the exact reduction I_m = cos^{m-1} sin / m + (m-1)/m I_{m-2}. Otherwise
    Gauss--Legendre (64 nodes) on a smooth integrand: directly for theta <= pi/4; for
    theta > pi/4 as I = C_n - J(pi/2 - theta) with C_n = sqrt(pi) Γ((n+1)/2) / (2 Γ(n/2+1))
    and J(a) = int_0^a sin^n φ dφ = int_0^a φ^n (sin φ/φ)^n dφ by Gauss--Jacobi quadrature
    with weight φ^n (*derived*; removes the endpoint singularity of cos^n at pi/2)."""
    if float(n).is_integer() and 0 <= n <= 400:
        k = int(n)
        c, s = torch.cos(theta), torch.sin(theta)
        prev2 = theta if k % 2 == 0 else s  # I_0 or I_1
        m = 0 if k % 2 == 0 else 1
        cur = prev2
        while m < k:  # I_m = cos^{m-1} sin / m + (m-1)/m I_{m-2}
            m += 2
            cur = c ** (m - 1) * s / m + (m - 1) / m * prev2
            prev2 = cur
        return cur
    nodes, weights = _gauss_legendre(64, theta)
    direct = theta * (torch.cos(theta.unsqueeze(-1) * nodes) ** n * weights).sum(-1)
    a = torch.clamp(math.pi / 2 - theta, min=0.0)
    jx, jw = _gauss_jacobi(n, theta)  # weight (1 + x)^n on [-1, 1]
    phi = a.unsqueeze(-1) * (1 + jx) / 2
    ratio = torch.where(phi > 0, torch.sin(phi) / torch.where(phi > 0, phi, 1.0), 1.0)
    J = (a / 2) ** (n + 1) * (ratio**n * jw).sum(-1)
    c_n = math.exp(0.5 * math.log(math.pi) + math.lgamma((n + 1) / 2) - math.lgamma(n / 2 + 1)) / 2
    return torch.where(theta <= math.pi / 4, direct, c_n - J)


_GJ_CACHE: dict[tuple[float, str, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}


def _gauss_jacobi(n: float, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    key = (float(n), str(like.device), like.dtype)
    if key not in _GJ_CACHE:
        from scipy.special import roots_jacobi

        x, w = roots_jacobi(48, 0.0, float(n))
        _GJ_CACHE[key] = (torch.tensor(x, dtype=like.dtype, device=like.device),
                          torch.tensor(w, dtype=like.dtype, device=like.device))
    return _GJ_CACHE[key]


def _torch_hyp2f1(a, b, c, z):
    """2F1(a, b; c; z) for the Student-t family a or b = 1/2, c = 3/2, z <= 0 (see module doc)."""
    a, b, c = float(a), float(b), float(c)
    if c != 1.5 or 0.5 not in (a, b):
        raise DerivationError(
            f"torch backend: 2F1({a:g}, {b:g}; {c:g}; z) is not supported (only the Student-t "
            "family 2F1(1/2, beta; 3/2; z <= 0)); use backend='numpy'")
    beta = b if a == 0.5 else a
    z = torch.as_tensor(z)
    w = torch.clamp(-z, min=0.0)
    tiny = torch.finfo(w.dtype).tiny ** 0.5 if w.is_floating_point() else 1e-150
    r = torch.sqrt(w).clamp_min(tiny)
    theta = torch.atan(r)
    return _cos_power_integral(2 * beta - 2, theta) / r


def _torch_gamma(x):
    x = torch.as_tensor(x)
    mag = torch.exp(torch.lgamma(x))
    odd = torch.remainder(torch.floor(x), 2) == 1
    return torch.where((x < 0) & odd, -mag, mag)


def _torch_max(*args):
    like = next((a for a in args if isinstance(a, torch.Tensor)), None)
    return reduce(torch.maximum, [as_tensor(a, like) for a in args])


def _torch_min(*args):
    like = next((a for a in args if isinstance(a, torch.Tensor)), None)
    return reduce(torch.minimum, [as_tensor(a, like) for a in args])


def _torch_heaviside(x, h0):
    x = as_tensor(x)
    return torch.heaviside(x, as_tensor(float(h0), x))


TORCH_FUNCS = {
    "_tk_erfc": lambda x: torch.special.erfc(as_tensor(x)),
    "_tk_gamma": _torch_gamma,
    "_tk_erfinv": lambda x: torch.special.erfinv(as_tensor(x)),
    "_tk_hyp2f1": _torch_hyp2f1,
    "_tk_max": _torch_max,
    "_tk_min": _torch_min,
    "_tk_heaviside": _torch_heaviside,
}

"""Noise models by name: the registry behind ``make_noise`` and the CLI's ``--noise``.

``gaussian``, ``student-t`` (``cauchy`` = nu 1), ``laplace`` and ``lomax`` are the models of
:mod:`theorykit.noise`; any other law of :mod:`theorykit.distributions`, or a user's
``module:Object``, becomes a :class:`~theorykit.noise.laws.LawNoise`. ``pareto`` is refused:
in theorykit it names the Pareto type I law, whose gap at the origin makes no sense as
gradient noise, and the noise model formerly called ``pareto`` is ``lomax``.
"""

from __future__ import annotations

from typing import Any

from theorykit.errors import InputError
from theorykit.noise.base import NoiseModel
from theorykit.noise.gaussian import Gaussian
from theorykit.noise.laws import Laplace, LawNoise, Lomax, StudentT
from theorykit.registry import Registry

__all__ = ["NOISE_MODELS", "NOISE_REGISTRY", "PARETO_REFUSED", "make_noise"]

NOISE_REGISTRY: Registry[type[NoiseModel]] = Registry(
    "noise model", key=str.lower, sort=False,
    aliases={"normal": "gaussian", "t": "student-t", "studentt": "student-t",
             "student_t": "student-t", "cauchy": "student-t", "pareto-ii": "lomax"},
    entries={"gaussian": Gaussian, "student-t": StudentT, "laplace": Laplace,
             "lomax": Lomax})
NOISE_MODELS: dict[str, type[NoiseModel]] = NOISE_REGISTRY.entries
"""Noise models by CLI name (any other law of :mod:`theorykit.distributions`, or
``module:Object``, goes through :class:`~theorykit.noise.laws.LawNoise`)."""

PARETO_REFUSED = ("noise 'pareto' is not a noise model: the Pareto type I law has a gap at "
                  "the origin (|Z| >= scale); the former noise 'pareto' (symmetric Pareto "
                  "type II) is 'lomax'")
"""The one-line refusal of ``make_noise("pareto")``."""


def make_noise(name: str, **params: Any) -> NoiseModel:
    """A noise model by name: ``gaussian`` (sigma | cov), ``student-t`` (nu, scale;
    ``cauchy`` = nu 1), ``laplace`` (scale), ``lomax`` (alpha, scale), or any other law of
    :mod:`theorykit.distributions` / ``module:Object`` (its shape parameters and ``scale``).
    ``pareto`` raises :class:`~theorykit.errors.InputError` (:data:`PARETO_REFUSED`)."""
    if name.lower() == "cauchy":
        params.setdefault("nu", 1)
    key = NOISE_REGISTRY.key(name)
    if key in NOISE_MODELS:
        return NOISE_REGISTRY.make(key, **params)
    if key == "pareto":
        raise InputError(PARETO_REFUSED)
    if ":" in name:
        return LawNoise(name, **params)
    from theorykit.distributions import catalog

    if key not in catalog():
        known = (set(NOISE_MODELS) | set(catalog())) - {"pareto"}
        raise NOISE_REGISTRY.unknown(name, sorted(known))
    return LawNoise(key, **params)

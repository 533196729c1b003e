"""One distributions package: symmetric laws shared by the noise models, the quantization
densities and the top-k magnitude laws.

Layout: :mod:`~theorykit.distributions.base` (the :class:`SymmetricLaw` object: symbolic
pdf and moments, numeric CDF and quantile, torch sampler), :mod:`~.registry` (name ->
law, ``module:Object`` resolution), and one module per family: :mod:`~.gaussian`,
:mod:`~.student_t`, :mod:`~.laplace`, :mod:`~.uniform`, :mod:`~.pareto` (the one "pareto",
type I, and the Lomax law; the module docstring records how the old three "pareto" laws
differed) and :mod:`~.custom` (a user formula, parsed only by
:func:`theorykit.expr.parse_expr`).

Users: :mod:`theorykit.noise` (``NoiseModel`` draws its unit noise from a law, and
``make_noise`` takes any law name or ``module:Object``), :mod:`theorykit.rules.quantization`
(``Density`` wraps a law: ``density("module:Object", ...)``) and
:mod:`theorykit.rules.topk_energy` (``MagnitudeLaw`` is the law of |Z|:
``law("module:Object", ...)``).

Adding a law is one file
------------------------
Create ``theorykit/distributions/mylaw.py`` (or any importable module, used as
``mymodule:MyLaw``)::

    import sympy as sp
    from theorykit.distributions.base import SymmetricLaw, scale_parameter
    from theorykit.distributions.registry import register

    @register
    class Logistic(SymmetricLaw):
        name = "logistic"
        params = (scale_parameter(),)      # shape parameters: shape_parameter(name, help)
        unit_variance = sp.pi**2 / 3       # Var T, in the parameter symbols

        def std_pdf(self, u):              # unit density on the support, SymPy
            return sp.exp(-u) / (1 + sp.exp(-u)) ** 2

        def sign_mean_unit(self, z):       # E sign(z + T) = 2F(z) - 1
            return sp.tanh(z / 2)

A heavy-tailed law also names its tail index (``tail_param = "alpha"``, so a numeric
alpha <= 2 gives infinite variance) and ``variance_condition`` (see :mod:`~.pareto`).

That is all: the CDF, quantile, sampler (inverse transform with a fair sign) and bracket
have numeric defaults; override ``cdf_unit``, ``abs_ppf``, ``abs_icdf_torch`` or
``sample_unit`` for speed or exactness. Then ``make_noise("logistic", scale=...)``,
``density("logistic")`` and ``law("logistic")`` all work (or ``"mymodule:Logistic"``), and
the CLI takes its parameters as ``-p KEY=VALUE``.
"""

from __future__ import annotations

from theorykit.distributions.base import (
    SymmetricLaw,
    U,
    X,
    nice_number,
    positive_symbol,
    scale_parameter,
    shape_parameter,
)
from theorykit.distributions.registry import catalog, make, register, resolve

__all__ = [
           "SymmetricLaw",
           "U",
           "X",
           "catalog",
           "make",
           "nice_number",
           "positive_symbol",
           "register",
           "resolve",
           "scale_parameter",
           "shape_parameter",
]

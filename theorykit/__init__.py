"""theorykit: derive, simulate and falsify the theory of compressed distributed optimization.

The package is organised around one idea (see ``DESIGN.md`` in the shared notes): every
result of a source paper is a :class:`~theorykit.check.claim.Claim` that the toolkit can
*derive* (SymPy), *run* (lambdified SDE solvers and real torch optimizers) and *falsify*
(a :class:`~theorykit.check.verdict.Verdict` with predicted, measured and the statistics
behind the tolerance).
"""

from theorykit.errors import DivergenceError, InputError, TheorykitError

__all__ = ["DivergenceError", "InputError", "TheorykitError", "__version__"]
__version__ = "0.1.0"

"""The one safe parser for user text that becomes math.

Every formula a user types — a density ``pdf=...``, a scaling rule ``--kappa``, a bound
``--bound`` — goes through :func:`parse_expr`. It never calls ``eval``, ``exec`` or
``sympify`` on the text: the text is split by Python's own tokenizer/parser into a syntax
tree, every node is checked against a whitelist (numbers, the caller's named symbols,
``+ - * / **`` (``^`` is read as ``**``), unary minus and a fixed set of functions), and the
SymPy expression is then *built* node by node. Limits on length, nesting, node count, the
size of number literals and the magnitude of constant exponents keep hostile input from
exhausting the machine. Any violation is an :class:`~theorykit.errors.InputError` with a
one-line message.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping

import sympy as sp

from theorykit.errors import InputError

MAX_LENGTH = 2000
"""Longest accepted text (characters)."""
MAX_DEPTH = 40
"""Deepest accepted nesting (parentheses and operator nesting alike)."""
MAX_NODES = 400
"""Most syntax-tree nodes accepted."""
MAX_DIGITS = 40
"""Longest accepted number literal (digits)."""
MAX_EXPONENT = 1000
"""Largest accepted |exponent| when the exponent is a constant."""

FUNCTIONS: dict[str, Callable[..., sp.Expr]] = {
    "sqrt": sp.sqrt, "exp": sp.exp, "log": sp.log, "ln": sp.log,
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "atan": sp.atan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
    "abs": sp.Abs, "Abs": sp.Abs, "sign": sp.sign,
    "gamma": sp.gamma, "erf": sp.erf, "erfc": sp.erfc,
    "min": sp.Min, "max": sp.Max,
}
"""The functions a formula may call, with their arity checked by SymPy."""
_ARITY = {"min": (2, 8), "max": (2, 8), "log": (1, 2)}
_NUMERIC_ARG_LIMIT = {"gamma": 1000.0}
"""Constant arguments SymPy would evaluate eagerly, bounded in magnitude: gamma(10**30)
computes a factorial with 10**30 digits (exp, sinh and cosh of a constant stay symbolic)."""
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E, "oo": sp.oo, "inf": sp.oo}

_BINOPS: dict[type, Callable[[sp.Expr, sp.Expr], sp.Expr]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}


def _fail(what: str, text: str, why: str) -> InputError:
    shown = text if len(text) <= 60 else text[:57] + "..."
    return InputError(f"{what} {shown!r}: {why}")


def _paren_depth(text: str) -> int:
    depth = best = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            best = max(best, depth)
        elif ch in ")]}":
            depth -= 1
    return best


def parse_expr(text: str, symbols: Mapping[str, sp.Symbol] | Iterable[str] = (), *,
               what: str = "expression") -> sp.Expr:
    """Parse ``text`` into a SymPy expression in the given ``symbols`` only.

    ``symbols`` maps the names a user may write to the SymPy symbols they stand for (an
    iterable of names makes plain real symbols). Raises :class:`InputError` naming the
    offending piece for anything outside the grammar; nothing in ``text`` is executed.
    """
    if not isinstance(text, str):
        raise InputError(f"{what} must be text, got {type(text).__name__}")
    if not isinstance(symbols, Mapping):
        symbols = {n: sp.Symbol(n, real=True) for n in symbols}
    stripped = text.strip()
    if not stripped:
        raise InputError(f"{what} is empty")
    if len(stripped) > MAX_LENGTH:
        raise InputError(f"{what} is {len(stripped)} characters long (at most {MAX_LENGTH})")
    if not stripped.isascii() or any(c in stripped for c in "\n\r;:=@!'\"`\\[]{}#$&|~<>"):
        bad = next(c for c in stripped if not c.isascii() or c in "\n\r;:=@!'\"`\\[]{}#$&|~<>")
        raise _fail(what, stripped, f"character {bad!r} is not allowed in a formula")
    if _paren_depth(stripped) > MAX_DEPTH:
        raise _fail(what, stripped, f"nested more than {MAX_DEPTH} levels deep")
    try:  # "^" is a power, as mathematicians write it (with "**"'s precedence)
        tree = ast.parse(stripped.replace("^", "**"), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        msg = getattr(exc, "msg", None) or type(exc).__name__
        raise _fail(what, stripped, f"not a formula ({msg})") from None
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise _fail(what, stripped, f"{nodes} syntax nodes (at most {MAX_NODES})")
    builder = _Builder(stripped, symbols, what)
    return builder.build(tree.body, 0)


class _Builder:
    def __init__(self, text: str, symbols: Mapping[str, sp.Symbol], what: str) -> None:
        self.text, self.symbols, self.what = text, symbols, what

    def fail(self, why: str) -> InputError:
        return _fail(self.what, self.text, why)

    def build(self, node: ast.AST, depth: int) -> sp.Expr:
        if depth > MAX_DEPTH:
            raise self.fail(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Constant):
            return self.number(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = self.build(node.operand, depth + 1)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            a = self.build(node.left, depth + 1)
            b = self.build(node.right, depth + 1)
            if isinstance(node.op, ast.Pow):
                self.check_power(a, b)
            try:
                return _BINOPS[type(node.op)](a, b)
            except (ValueError, TypeError, ZeroDivisionError, OverflowError) as exc:
                raise self.fail(f"cannot combine ({exc})") from None
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise self.fail(f"{_describe(node)} is not allowed (only numbers, the names "
                        f"{self.allowed()}, + - * / ** and the functions "
                        f"{', '.join(sorted(FUNCTIONS))})")

    def number(self, value: object) -> sp.Expr:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"literal {value!r} is not a number")
        if isinstance(value, int):
            if len(str(abs(value))) > MAX_DIGITS:
                raise self.fail(f"number literal longer than {MAX_DIGITS} digits")
            return sp.Integer(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise self.fail("number literal is not finite")
        return sp.Rational(str(value)) if len(repr(value)) <= MAX_DIGITS else sp.Float(value)

    def name(self, name: str) -> sp.Expr:
        if name.startswith("_"):
            raise self.fail(f"name {name!r} is not allowed")
        if name in self.symbols:
            return self.symbols[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise self.fail(f"{name} is a function: write {name}(...)")
        raise self.fail(f"unknown name {name!r}; allowed: {self.allowed()}")

    def call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            raise self.fail(f"{_describe(node.func)} cannot be called")
        fname = node.func.id
        if fname not in FUNCTIONS:
            raise self.fail(f"function {fname!r} is not allowed; allowed: "
                            f"{', '.join(sorted(FUNCTIONS))}")
        if node.keywords:
            raise self.fail(f"{fname}(...) takes no keyword arguments")
        lo, hi = _ARITY.get(fname, (1, 1))
        if not lo <= len(node.args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise self.fail(f"{fname} takes {want} argument(s), got {len(node.args)}")
        args = [self.build(a, depth + 1) for a in node.args]
        limit = _NUMERIC_ARG_LIMIT.get(fname)
        for a in args:
            if limit is not None and a.is_number:
                try:
                    big = not abs(complex(a)) <= limit
                except (TypeError, ValueError, OverflowError):
                    big = True
                if big:
                    raise self.fail(f"{fname} of a constant larger than {limit:g} in magnitude")
        try:
            return FUNCTIONS[fname](*args)
        except (ValueError, TypeError, OverflowError) as exc:
            raise self.fail(f"{fname}: {exc}") from None

    def check_power(self, base: sp.Expr, exponent: sp.Expr) -> None:
        if exponent.is_number:
            try:
                mag = abs(complex(exponent))
            except (TypeError, ValueError, OverflowError):
                mag = float("inf")
            if not mag <= MAX_EXPONENT:
                raise self.fail(f"constant exponent larger than {MAX_EXPONENT} in magnitude")
        if base.is_number and exponent.is_number:
            try:
                b = abs(complex(base))
            except (TypeError, ValueError, OverflowError):
                b = float("inf")
            if b > 1e6 and abs(complex(exponent)) > 50:
                raise self.fail("number too large (constant power)")

    def allowed(self) -> str:
        names = sorted(self.symbols) + sorted(CONSTANTS)
        return ", ".join(names)


def _describe(node: ast.AST) -> str:
    kinds = {ast.Attribute: "attribute access", ast.Lambda: "lambda",
             ast.Subscript: "indexing", ast.Compare: "a comparison",
             ast.BoolOp: "a boolean operator", ast.IfExp: "a conditional",
             ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict",
             ast.Starred: "unpacking", ast.JoinedStr: "an f-string",
             ast.NamedExpr: "assignment"}
    for k, v in kinds.items():
        if isinstance(node, k):
            return v
    return type(node).__name__

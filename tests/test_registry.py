"""The one generic name registry (theorykit.registry) and the registries built on it."""

from __future__ import annotations

import sys

import pytest

from theorykit.errors import InputError
from theorykit.registry import Registry, import_submodules


class Base:
    name = "base"

    def __init__(self, x: int = 0) -> None:
        self.x = x


class Alpha(Base):
    name = "alpha"


class Beta(Base):
    name = "Beta"


def _registry(**kw) -> Registry[type[Base]]:
    reg: Registry[type[Base]] = Registry("widget", base=Base, key=str.lower, **kw)
    reg.register(Beta)
    reg.register(Alpha)
    return reg


def test_register_catalog_order_and_keys():
    reg = _registry()
    assert list(reg.catalog()) == ["alpha", "beta"]  # sorted by normalized name
    assert reg.names() == ["alpha", "beta"]
    assert list(_registry(sort=False).catalog()) == ["beta", "alpha"]  # registration order
    assert reg.resolve("BETA") is Beta and reg.get("alpha") is Alpha
    assert "Alpha" in reg and "gamma" not in reg and 3 not in reg
    assert reg.register(Alpha) is Alpha  # the same class again is harmless
    other = type("Alpha2", (Base,), {"name": "alpha"})
    with pytest.raises(ValueError, match="widget name 'alpha' registered twice"):
        reg.register(other)


def test_aliases_initial_entries_and_make():
    reg = Registry("widget", key=str.lower, aliases={"a": "alpha"},
                   entries={"alpha": Alpha, "twice": lambda x: Base(2 * x)})
    assert reg.key("A") == "alpha" and reg.resolve("a") is Alpha
    assert reg.make("a", x=3).x == 3 and reg.make("twice", x=2).x == 4
    with pytest.raises(InputError, match=r"^widget alpha: .*unexpected keyword"):
        reg.make("alpha", y=1)


def test_unknown_name_is_one_line_listing_known_names():
    with pytest.raises(InputError) as exc:
        _registry().resolve("gamma")
    msg = str(exc.value)
    assert msg == "unknown widget 'gamma'; known: alpha, beta (or module.path:Object)"
    # without a base class there is no module:Object form, and no hint
    reg = Registry("widget", entries={"alpha": Alpha})
    with pytest.raises(InputError, match=r"known: alpha$"):
        reg.resolve("mod:Thing")


def test_module_object_references(tmp_path, monkeypatch):
    (tmp_path / "my_widgets.py").write_text(
        "from theorykit.schedules import Constant\n\n"
        "class Mine(Constant):\n    name = 'mine'\n\nNOT_A_CLASS = 3\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "my_widgets", raising=False)
    from theorykit.schedules import Schedule

    reg: Registry[type[Schedule]] = Registry("widget", base=Schedule)
    mine = reg.resolve("my_widgets:Mine")  # importable from the current directory
    assert mine.__name__ == "Mine" and reg.make("my_widgets:Mine")(3) == 1.0
    with pytest.raises(InputError, match="cannot load widget 'my_widgets:Nope'"):
        reg.resolve("my_widgets:Nope")
    with pytest.raises(InputError, match="cannot load widget 'no_such_module:X'"):
        reg.resolve("no_such_module:X")
    with pytest.raises(InputError, match="'my_widgets:NOT_A_CLASS' is not a Schedule subclass"):
        reg.resolve("my_widgets:NOT_A_CLASS")
    # the base class may be given as a lazy "module:Class" reference
    lazy: Registry[type] = Registry("widget", base="theorykit.schedules:Schedule")
    assert lazy.resolve("my_widgets:Mine") is mine
    with pytest.raises(InputError, match="is not a Schedule subclass"):
        lazy.resolve("theorykit.problems:Quadratic")


def test_loader_runs_once_before_the_first_lookup():
    calls = []
    reg: Registry[type[Base]] = Registry("widget", loader=lambda: calls.append(reg.add("alpha",
                                                                                       Alpha)))
    assert calls == []
    assert reg.names() == ["alpha"] and reg.names() == ["alpha"]
    assert len(calls) == 1


def test_import_submodules_loader_imports_every_module():
    import_submodules("theorykit.distributions")()
    assert "theorykit.distributions.laplace" in sys.modules


def test_package_registries_are_registry_instances():
    from theorykit.compressors import registry as comp
    from theorykit.distributions import registry as laws
    from theorykit.methods import METHODS
    from theorykit.methods import registry as methods
    from theorykit.noise import NOISE_MODELS, NOISE_REGISTRY
    from theorykit.problems import PROBLEM_REGISTRY, PROBLEMS, make_problem
    from theorykit.schedules import SCHEDULES

    for reg in (comp.REGISTRY, laws.REGISTRY, methods.REGISTRY, PROBLEM_REGISTRY,
                NOISE_REGISTRY, SCHEDULES):
        assert isinstance(reg, Registry)
    assert METHODS is methods.REGISTRY.entries and PROBLEMS is PROBLEM_REGISTRY.entries
    assert NOISE_MODELS is NOISE_REGISTRY.entries
    assert list(comp.catalog()) == sorted(comp.catalog())
    assert laws.resolve("Cauchy") is laws.resolve("student_t")
    assert methods.resolve("D-C_SGD") is methods.resolve("dcsgd")
    assert SCHEDULES.names() == ["constant", "poly", "normalized"]
    with pytest.raises(InputError, match="not a Problem subclass"):
        make_problem("theorykit.methods:DSGD")

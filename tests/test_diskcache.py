"""The on-disk derivation cache: round trip, version keying, corrupt files, switch-off."""

from __future__ import annotations

import sympy as sp

from theorykit import diskcache


def test_round_trip_and_switch_off(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORYKIT_CACHE_DIR", str(tmp_path))
    x = sp.Symbol("x", positive=True)
    value = (sp.exp(-x) * sp.log(1 + x), None)
    assert diskcache.missing(diskcache.load("ns", "k"))
    diskcache.store("ns", "k", value)
    got = diskcache.load("ns", "k")
    assert got == value and got[0].free_symbols == {x}  # assumptions survive
    monkeypatch.setenv("THEORYKIT_DISK_CACHE", "0")
    assert diskcache.missing(diskcache.load("ns", "k"))


def test_corrupt_file_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("THEORYKIT_CACHE_DIR", str(tmp_path))
    diskcache.store("ns", "k", 1)
    (path,) = (tmp_path / "ns").iterdir()
    path.write_bytes(b"not a pickle")
    assert diskcache.missing(diskcache.load("ns", "k"))
    diskcache.store("ns", "k", 2)
    assert diskcache.load("ns", "k") == 2


def test_quantization_closed_form_identical_from_disk(tmp_path, monkeypatch):
    """A closed form read back from disk equals the one derived in-process."""
    from theorykit.rules import quantization as q
    from theorykit.rules.quantization import closed_form, symbolic

    monkeypatch.setenv("THEORYKIT_CACHE_DIR", str(tmp_path))
    d = q.density("laplace")
    monkeypatch.setattr(closed_form, "_CLOSED", {})
    monkeypatch.setattr(symbolic, "_PIECES", {})
    first = q.optimize(d, 7, scheme="nonuniform")
    monkeypatch.setattr(closed_form, "_CLOSED", {})
    monkeypatch.setattr(symbolic, "_PIECES", {})
    second = q.optimize(d, 7, scheme="nonuniform")
    assert first.alpha == second.alpha and first.predicted_error == second.predicted_error
    assert any((tmp_path / "quantization-closed-form").iterdir())

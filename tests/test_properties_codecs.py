"""Property-based tests of every catalog codec (issue 14, item 3).

For arbitrary shapes ``(..., d)``, dtypes and values (zeros, denormals, huge values):

* ``decode(encode(x, g))`` equals ``apply(x, g')`` bit for bit for equal generator states
  (the contract of :class:`~theorykit.compressors.base.CompressorSpec`), keeps the shape
  and dtype, and is finite;
* ``payload.nbits`` is what the bit formula says for a deterministic-size codec;
* a NaN or an infinity anywhere is refused with an :class:`InputError` that says so, by
  ``encode`` and ``apply`` alike.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from theorykit.compressors.registry import catalog, make
from theorykit.errors import InputError

NAMES = sorted(catalog())
DTYPES = [torch.float32, torch.float64]
SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _params(name: str, d: int, draw) -> dict:
    """Valid parameters of catalog entry ``name`` at dimension ``d``."""
    k = draw(st.integers(1, d))
    s = draw(st.integers(1, 9))
    table = {
        "bernoulli": {"p": draw(st.sampled_from([0.05, 0.5, 1.0]))},
        "biased_bernoulli": {"p": draw(st.sampled_from([0.05, 0.5, 1.0]))},
        "natural_dithering": {"s": s, "r": draw(st.sampled_from([1.0, 2.0, 3.5]))},
        "nearest_rounding": {"base": draw(st.sampled_from([1.5, 2.0, 10.0]))},
        "unbiased_rounding": {"base": draw(st.sampled_from([1.5, 2.0, 10.0]))},
        "qsgd": {"s": s},
        "randk": {"k": k},
        "randk_unscaled": {"k": k},
        "topk": {"k": k},
        "topk_natural_dithering": {"k": k, "s": s},
        "topk_qsgd": {"k": k, "s": s},
        "truncated_nonuniform": {"tau": (tau := draw(st.sampled_from([1e-3, 1.0, 1e6]))),
                                 "levels": tuple(tau * v for v in (-1.0, -0.2, 0, 0.5, 1.0))},
        "truncated_uniform": {"tau": draw(st.sampled_from([1e-3, 1.0, 1e6])), "s": s},
    }
    return table.get(name, {})


def _values(dtype: torch.dtype, allow_nonfinite: bool = False):
    info = torch.finfo(dtype)
    special = [0.0, -0.0, info.tiny, -info.tiny, info.tiny / 4, info.max, -info.max,
               info.max / 3, 1.0, -1.0, info.eps]
    finite = st.one_of(st.sampled_from(special),
                       st.floats(-info.max, info.max, allow_nan=False, allow_infinity=False,
                                 width=32 if dtype == torch.float32 else 64))
    if not allow_nonfinite:
        return finite
    return st.one_of(finite, st.sampled_from([math.nan, math.inf, -math.inf]))


@st.composite
def cases(draw, name: str, nonfinite: bool = False):
    d = draw(st.integers(1, 24))
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    dtype = draw(st.sampled_from(DTYPES))
    n = math.prod(lead) * d
    vals = draw(st.lists(_values(dtype), min_size=n, max_size=n))
    if nonfinite:
        where = draw(st.integers(0, n - 1))
        vals[where] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    x = torch.tensor(vals, dtype=dtype).reshape(*lead, d)
    return make(name, **_params(name, d, draw)), x, draw(st.integers(0, 2**31 - 1))


@pytest.mark.parametrize("name", NAMES)
def test_decode_encode_equals_apply(name):
    @SETTINGS
    @given(cases(name))
    def check(case):
        spec, x, seed = case
        if spec.float32_wire and x.dtype == torch.float64 and x.numel() and \
                float(x.abs().amax()) > torch.finfo(torch.float32).max:
            for run in (lambda: spec.encode(x, torch.Generator().manual_seed(seed)),
                        lambda: spec.apply(x, torch.Generator().manual_seed(seed))):
                with pytest.raises(InputError, match="float32 range"):
                    run()
            return
        try:
            payload = spec.encode(x, torch.Generator().manual_seed(seed))
        except InputError as exc:  # only a norm/value beyond float32 may be refused
            assert "float32 range" in str(exc), exc
            with pytest.raises(InputError, match="float32 range"):
                spec.apply(x, torch.Generator().manual_seed(seed))
            return
        out = spec.decode(payload)
        ref = spec.apply(x, torch.Generator().manual_seed(seed))
        if spec.name == "identity":  # apply is exact; the wire rounds to float32 (documented)
            ref = ref.to(torch.float32).to(x.dtype)
        assert out.shape == x.shape and ref.shape == x.shape
        assert out.dtype == x.dtype and ref.dtype == x.dtype
        assert torch.equal(out, ref), f"{spec!r}: decode(encode(x)) != apply(x)"
        # an unbiased codec scales by up to d/k or 1/p (<= 24 here): C(x) is representable
        # when max|x| leaves that much headroom, and must then be finite
        if float(x.abs().amax()) <= torch.finfo(x.dtype).max / 64:
            assert bool(torch.isfinite(out).all()), f"{spec!r}: non-finite output"
        assert payload.nbits >= 0 and payload.shape == tuple(x.shape)

    check()


@pytest.mark.parametrize("name", NAMES)
def test_nonfinite_input_is_refused(name):
    @SETTINGS
    @given(cases(name, nonfinite=True))
    def check(case):
        spec, x, seed = case
        for run in (lambda: spec.encode(x, torch.Generator().manual_seed(seed)),
                    lambda: spec.apply(x, torch.Generator().manual_seed(seed))):
            with pytest.raises(InputError, match="NaN or infinite"):
                run()

    check()

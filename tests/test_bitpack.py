"""The one bit-packing module: every fast packer is byte for byte the reference layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from theorykit.compressors.bitpack import (
    pack_codes,
    pack_sign_plane,
    pack_uint,
    unpack_codes,
    unpack_sign_plane,
    unpack_uint,
)


@pytest.mark.parametrize("width", [*range(1, 33), 40])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64])
def test_pack_codes_is_the_pack_uint_layout(width, dtype):
    if np.iinfo(dtype).max < (1 << width) - 1:
        pytest.skip("codes do not fit the dtype")
    rng = np.random.default_rng(width)
    for n in (0, 1, 7, 8, 9, 1001):
        c = torch.from_numpy(rng.integers(0, 1 << width, n).astype(dtype))
        packed = pack_codes(c, width)
        assert torch.equal(packed, pack_uint(c, width))
        back = unpack_codes(packed, width, n).to(torch.int64)
        assert torch.equal(back, unpack_uint(packed, width, n))


def test_pack_codes_refuses_codes_that_do_not_fit():
    with pytest.raises(ValueError, match="do not fit"):
        pack_codes(torch.tensor([4], dtype=torch.uint8), 2)


def test_sign_plane_round_trip():
    signs = torch.from_numpy(np.random.default_rng(0).integers(0, 2, 1003).astype(np.uint8)) * 255
    assert torch.equal(unpack_sign_plane(pack_sign_plane(signs), 1003), signs)

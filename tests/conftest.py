"""Shared fixtures of the test suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from theorykit.methods.biased import one_thread


@pytest.fixture(scope="module")
def one_thread_module() -> Iterator[None]:
    """One torch intra-op thread for a whole test module (small batched tensors run fastest
    that way); the previous setting is restored afterwards. Use it with
    ``pytestmark = pytest.mark.usefixtures("one_thread_module")``."""
    with one_thread():
        yield

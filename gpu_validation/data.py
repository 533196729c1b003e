"""Data that ships with installed packages (nothing is downloaded).

* :func:`digits` -- scikit-learn's ``load_digits`` (1797 grey 8x8 images, 10 classes), a
  seeded 80/20 train/test split, standardised with the training mean and std, as tensors
  of shape ``(n, 8, 8)`` (float32) and labels ``(n,)`` (int64).
* :func:`stdlib_bytes` -- the Python standard library's own source files as one byte
  stream, from ``sysconfig.get_paths()["stdlib"]``. The file selection is fixed
  (:data:`STDLIB_FILES`, 30 pure-Python modules, ~1.5 MB on CPython 3.11), read in that
  order and joined by a blank line. Split: in every file the first 90% of its bytes go to
  training and the last 10% to validation (so both splits see every file's style and no
  window crosses the split). Files missing in a Python version are skipped and listed;
  the SHA-256 of the bytes is returned so a result names exactly what it trained on.
* :func:`windows` -- random causal-LM windows (inputs, next-byte targets) from a stream.
"""

from __future__ import annotations

import hashlib
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from theorykit.errors import InputError

__all__ = ["STDLIB_FILES", "ByteText", "Digits", "digits", "stdlib_bytes", "windows"]

STDLIB_FILES: tuple[str, ...] = (
    "abc.py", "argparse.py", "ast.py", "bisect.py", "calendar.py",
    "collections/__init__.py", "contextlib.py", "copy.py", "csv.py", "dataclasses.py",
    "datetime.py", "difflib.py", "enum.py", "fractions.py", "functools.py", "heapq.py",
    "inspect.py", "json/decoder.py", "json/encoder.py", "logging/__init__.py",
    "pathlib.py", "pprint.py", "random.py", "shutil.py", "statistics.py", "string.py",
    "textwrap.py", "threading.py", "typing.py", "zipfile.py",
)
"""The fixed selection of standard-library sources (relative to the stdlib directory)."""

VAL_FRACTION = 0.1


@dataclass(frozen=True)
class Digits:
    """Standardised digits: train/test images ``(n, 8, 8)`` and labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def digits(device: torch.device | str = "cpu", seed: int = 0,
           test_fraction: float = 0.2) -> Digits:
    """scikit-learn's ``load_digits`` as tensors on ``device`` (seeded split)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError("scikit-learn is needed for load_digits: pip install "
                         "'theorykit[ml]'") from None
    X, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(seed).permutation(len(y))
    X, y = X[perm].astype(np.float32), y[perm]
    n_test = round(len(y) * test_fraction)
    mean, std = X[n_test:].mean(), X[n_test:].std() + 1e-6
    X = (X - mean) / std
    t = lambda a: torch.tensor(a, dtype=torch.float32, device=device).reshape(-1, 8, 8)  # noqa: E731
    u = lambda a: torch.tensor(a, dtype=torch.long, device=device)  # noqa: E731
    return Digits(t(X[n_test:]), u(y[n_test:]), t(X[:n_test]), u(y[:n_test]))


@dataclass(frozen=True)
class ByteText:
    """A byte stream split into train/validation (uint8 tensors) with its provenance."""

    train: torch.Tensor
    val: torch.Tensor
    files: tuple[str, ...]
    missing: tuple[str, ...]
    sha256: str
    stdlib: str

    def describe(self) -> dict[str, object]:
        return {"source": "Python standard library sources", "stdlib": self.stdlib,
                "files": list(self.files), "missing": list(self.missing),
                "train_bytes": int(self.train.numel()), "val_bytes": int(self.val.numel()),
                "sha256": self.sha256,
                "split": f"per file: first {1 - VAL_FRACTION:.0%} train, last "
                         f"{VAL_FRACTION:.0%} validation"}


def stdlib_bytes(device: torch.device | str = "cpu", max_files: int | None = None
                 ) -> ByteText:
    """The fixed stdlib selection as a :class:`ByteText` (``max_files``: only the first
    files of :data:`STDLIB_FILES`, for tiny runs)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    tr, va, used, missing = [], [], [], []
    h = hashlib.sha256()
    for name in STDLIB_FILES[:max_files]:
        p = root / name
        if not p.is_file():
            missing.append(name)
            continue
        b = p.read_bytes() + b"\n\n"
        h.update(b)
        cut = int(len(b) * (1 - VAL_FRACTION))
        tr.append(b[:cut])
        va.append(b[cut:])
        used.append(name)
    if not used:
        raise InputError(f"none of the selected stdlib files was found under {root}")

    def tensor(parts: list[bytes]) -> torch.Tensor:
        return torch.frombuffer(bytearray(b"".join(parts)), dtype=torch.uint8).to(device)

    return ByteText(tensor(tr), tensor(va), tuple(used), tuple(missing), h.hexdigest(),
                    str(root))


def windows(stream: torch.Tensor, shape: tuple[int, ...], ctx: int,
            generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of ``ctx`` bytes: inputs ``(*shape, ctx)`` and next-byte targets
    (int64), start positions uniform, drawn with ``generator`` (on the stream's device)."""
    n = int(stream.numel()) - ctx - 1
    if n <= 0:
        raise InputError(f"text of {stream.numel()} bytes is shorter than ctx + 1 = {ctx + 1}")
    starts = torch.randint(0, n, shape, generator=generator, device=generator.device)
    idx = starts.to(stream.device)[..., None] + torch.arange(ctx + 1, device=stream.device)
    w = stream[idx].long()
    return w[..., :-1], w[..., 1:]

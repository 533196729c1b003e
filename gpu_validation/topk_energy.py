"""Top-k energy of real gradients: train a small MLP on scikit-learn's ``load_digits``
(shipped with the package, no download) and record, at checkpoints during training, the
fraction of the minibatch gradient's energy that top-k keeps, ||Top_k(g)||²/||g||², on a
grid of ρ = k/d. Rand-k keeps ρ in expectation, so the curve divided by ρ is the top-k
gain (Beznosikov, Horváth, Richtárik, Safaryan, JMLR 24(276), 2023, "empirical gradient
distributions" [paper-abstract]); the derived closed forms for Gaussian, Laplace and
Pareto coordinates (:mod:`theorykit.rules.topk_energy`) are written next to it, with the
Pareto index whose ρ^{1-2/a} best fits the small-ρ part of the measured curve.

Usage::

    python -m gpu_validation.topk_energy --tiny              # CPU, seconds (CI)
    python -m gpu_validation.topk_energy --device cuda       # larger MLP, more epochs
    python -m gpu_validation.topk_energy --device cpu --epochs 20 --hidden 256

Results (JSON, with provenance: device, versions, date, command, seed) go to
``gpu_validation/results/topk_energy_<mode>.json`` unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from theorykit.errors import InputError

RESULTS = Path(__file__).resolve().parent / "results"
RHOS = tuple(float(r) for r in np.round(np.logspace(-3, 0, 19), 6))
GAIN_RHOS = (0.1, 0.01, 0.001)


def _config(args: argparse.Namespace) -> dict[str, Any]:
    if args.tiny:
        base = {"hidden": 64, "depth": 2, "epochs": 3, "batch": 64, "lr": 0.1,
                "captures": 12}
    elif args.device.startswith("cuda"):
        base = {"hidden": 1024, "depth": 3, "epochs": 40, "batch": 128, "lr": 0.05,
                "captures": 40}
    else:
        base = {"hidden": 256, "depth": 2, "epochs": 20, "batch": 64, "lr": 0.05,
                "captures": 30}
    for k in ("hidden", "depth", "epochs", "batch", "lr", "captures"):
        v = getattr(args, k, None)
        if v is not None:
            base[k] = v
    for k in ("hidden", "depth", "epochs", "batch", "captures"):
        if int(base[k]) < 1:
            raise InputError(f"--{k} must be >= 1, got {base[k]}")
    if not base["lr"] > 0:
        raise InputError(f"--lr must be > 0, got {base['lr']}")
    return base


def _data(device: torch.device, seed: int) -> tuple[torch.Tensor, ...]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError("scikit-learn is needed for load_digits: pip install "
                         "'theorykit[ml]'") from None
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(y))
    X, y = X[perm], y[perm]
    n_test = len(y) // 5
    mean, std = X[n_test:].mean(0), X[n_test:].std(0) + 1e-6
    X = (X - mean) / std
    t = [torch.tensor(a, dtype=torch.float32, device=device) for a in (X[n_test:], X[:n_test])]
    u = [torch.tensor(a, dtype=torch.long, device=device) for a in (y[n_test:], y[:n_test])]
    return t[0], u[0], t[1], u[1]


def _mlp(d_in: int, hidden: int, depth: int, d_out: int) -> torch.nn.Module:
    layers: list[torch.nn.Module] = []
    width = d_in
    for _ in range(depth):
        layers += [torch.nn.Linear(width, hidden), torch.nn.ReLU()]
        width = hidden
    layers.append(torch.nn.Linear(width, d_out))
    return torch.nn.Sequential(*layers)


def fractions_of(g: torch.Tensor, rhos: tuple[float, ...]) -> list[float]:
    """||Top_k(g)||²/||g||² for each ρ, k = max(1, round(ρ d)) (one sort)."""
    from theorykit.rules.topk_energy import energy_fractions

    return [float(v) for v in energy_fractions(g.detach().double().cpu()[None], rhos)[0]]


def run(args: argparse.Namespace) -> dict[str, Any]:
    from theorykit.check.ledger import device_text, versions
    from theorykit.rules.topk_energy import energy_fraction, law

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda requested but torch.cuda.is_available() is False")
    device = torch.device(args.device)
    cfg = _config(args)
    torch.manual_seed(args.seed)
    Xtr, ytr, Xte, yte = _data(device, args.seed)
    model = _mlp(Xtr.shape[1], int(cfg["hidden"]), int(cfg["depth"]), 10).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    dim = sum(p.numel() for p in params)
    opt = torch.optim.SGD(params, lr=float(cfg["lr"]))
    loss_fn = torch.nn.CrossEntropyLoss()
    batch = int(cfg["batch"])
    steps_per_epoch = math.ceil(len(ytr) / batch)
    total = steps_per_epoch * int(cfg["epochs"])
    capture_at = set(np.unique(np.linspace(0, total - 1, int(cfg["captures"])).astype(int)))
    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    captures: list[dict[str, Any]] = []
    step = 0
    t0 = time.perf_counter()
    for epoch in range(int(cfg["epochs"])):
        perm = torch.randperm(len(ytr), generator=gen).to(device)
        for b in range(steps_per_epoch):
            idx = perm[b * batch:(b + 1) * batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xtr[idx]), ytr[idx])
            loss.backward()
            if step in capture_at:
                g = torch.cat([p.grad.reshape(-1) for p in params])
                captures.append({"step": step, "epoch": epoch, "loss": float(loss.detach()),
                                 "grad_norm": float(g.norm()),
                                 "kurtosis": float(((g - g.mean()) ** 4).mean()
                                                   / ((g - g.mean()) ** 2).mean() ** 2),
                                 "fractions": fractions_of(g, RHOS)})
            opt.step()
            step += 1
    elapsed = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((model(Xte).argmax(1) == yte).float().mean())
    F = np.array([c["fractions"] for c in captures])
    mean = F.mean(0)
    se = F.std(0, ddof=1) / math.sqrt(len(F)) if len(F) > 1 else np.zeros_like(mean)
    rhos_eff = [max(1, round(r * dim)) / dim for r in RHOS]
    closed = {}
    for name, params_ in (("gaussian", {}), ("laplace", {}), ("pareto_a3", {"a": 3}),
                          ("pareto_a4", {"a": 4})):
        curve = energy_fraction(law(name.split("_")[0], **params_)).numeric()
        closed[name] = [float(v) for v in curve(np.array(rhos_eff))]
    small = np.array(rhos_eff) <= 0.1
    slope = float(np.polyfit(np.log(np.array(rhos_eff)[small]), np.log(mean[small]), 1)[0])
    a_fit = 2 / (1 - slope) if slope < 1 else math.inf
    gains = {}
    for r in GAIN_RHOS:
        j = int(np.argmin(np.abs(np.array(RHOS) - r)))
        gains[str(r)] = {"rho_effective": rhos_eff[j], "gain": float(mean[j] / rhos_eff[j]),
                         "gain_se": float(se[j] / rhos_eff[j])}
    mode = "tiny" if args.tiny else ("cuda" if device.type == "cuda" else "cpu")
    vers = versions()
    try:
        import sklearn

        vers["scikit-learn"] = sklearn.__version__
    except ImportError:  # pragma: no cover
        pass
    return {
        "experiment": "topk_energy",
        "description": "top-k energy fraction of minibatch gradients of an MLP on "
                       "sklearn load_digits; rand-k keeps rho in expectation",
        "provenance": {
            "mode": mode, "device": device_text(args.device), "versions": vers,
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, "-m",
                                 "gpu_validation.topk_energy", *sys.argv[1:]])
            if args.command is None else args.command,
            "seed": args.seed, "python": platform.python_version(),
            "elapsed_s": round(elapsed, 2),
        },
        "config": cfg | {"dim": dim, "train_size": len(ytr), "test_size": len(yte),
                         "steps": total},
        "test_accuracy": acc,
        "rhos": list(RHOS), "rhos_effective": rhos_eff,
        "captures": captures,
        "mean_fraction": [float(v) for v in mean], "se_fraction": [float(v) for v in se],
        "gain": gains,
        "closed_forms": closed,
        "pareto_fit": {"slope_small_rho": slope, "a": a_fit,
                       "note": "E_top = rho^(1 - 2/a) fitted on rho <= 0.1 (log-log LS)"},
    }


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gpu_validation.topk_energy",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="small CPU run (seconds; for CI)")
    p.add_argument("--device", default="cpu", help="torch device: cpu or cuda[:i]")
    p.add_argument("--epochs", type=int)
    p.add_argument("--hidden", type=int)
    p.add_argument("--depth", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--captures", type=int, help="number of gradients recorded")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="results JSON path (default gpu_validation/results/"
                                 "topk_energy_<mode>.json)")
    p.set_defaults(command=None)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is not None:
        args.command = "python -m gpu_validation.topk_energy " + " ".join(argv)
    try:
        res = run(args)
    except InputError as exc:
        print(f"topk_energy: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else RESULTS / f"topk_energy_{res['provenance']['mode']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    g = res["gain"]
    print(f"d = {res['config']['dim']}, test accuracy {res['test_accuracy']:.3f}, "
          f"{len(res['captures'])} gradients; top-k gain over rand-k: "
          + ", ".join(f"rho={k}: {v['gain']:.2f} ± {v['gain_se']:.2f}" for k, v in g.items())
          + f"; Pareto fit a = {res['pareto_fit']['a']:.2f}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An ordinary PyTorch DDP training script that sends its gradients through a theorykit
compressor — the two added lines are marked ``# theorykit``.

A small MLP learns scikit-learn's ``load_digits`` (shipped with the package; nothing is
downloaded), each rank reading its shard through ``DistributedSampler``. The hook is
:func:`theorykit.distributed.ddp_hook`: every gradient bucket is encoded with the catalog
codec (QSGD with s = 4 levels by default: Alistarh et al., NeurIPS 2017; DCSGD in
Compagnoni et al., AISTATS 2025), the packed bytes are all-gathered, decoded and averaged;
the exact bits and bytes are reported at the end.

    python examples/ddp_train.py                        # 2 gloo processes on this CPU
    python examples/ddp_train.py --compressor topk -p k=0.05 --error-feedback
    python examples/ddp_train.py --compressor none      # DDP's own all-reduce
    torchrun --standalone --nproc_per_node=2 examples/ddp_train.py           # gloo, CPU
    torchrun --standalone --nproc_per_node=NGPU examples/ddp_train.py --device cuda  # NCCL
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

from theorykit.distributed import ddp_hook  # theorykit


def digits() -> TensorDataset:
    """``load_digits`` standardised: 1797 images of 8x8 pixels, 10 classes."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X, dtype=torch.float32)
    X = (X - X.mean(0)) / (X.std(0) + 1e-6)
    return TensorDataset(X, torch.tensor(y, dtype=torch.int64))


def train(compressor: str | None = "qsgd", params: dict[str, Any] | None = None, *,
          error_feedback: bool = False, steps: int = 150, batch: int = 32, lr: float = 0.1,
          hidden: int = 64, seed: int = 0, bucket_cap_mb: float = 25.0,
          device: str = "cpu") -> dict[str, Any]:
    """Train in the current process group; returns the loss curve, the final parameters
    (flattened, on CPU) and — with a compressor — the hook's communication counters."""
    rank, world = dist.get_rank(), dist.get_world_size()
    dev = torch.device(device)
    data = digits()
    torch.manual_seed(seed)  # the same initial weights on every rank
    net = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(),
                              torch.nn.Linear(hidden, 10)).to(dev)
    model = DDP(net, device_ids=[dev.index] if dev.type == "cuda" else None,
                bucket_cap_mb=bucket_cap_mb)
    state = None
    if compressor is not None:
        state, hook = ddp_hook(compressor, error_feedback=error_feedback, seed=seed,
                               **(params or {}))
        model.register_comm_hook(state, hook)  # theorykit
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    loader = DataLoader(data, batch_size=batch, sampler=sampler, drop_last=True)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    lossf = torch.nn.CrossEntropyLoss()
    X, y = data.tensors[0].to(dev), data.tensors[1].to(dev)
    history: dict[str, list[float]] = {"step": [], "loss": []}
    step, epoch = 0, 0
    while step < steps:
        sampler.set_epoch(epoch)
        for xb, yb in loader:
            if step >= steps:
                break
            opt.zero_grad()
            loss = lossf(model(xb.to(dev)), yb.to(dev))
            loss.backward()
            opt.step()
            if step % 10 == 0 or step == steps - 1:
                with torch.no_grad():
                    history["step"].append(step)
                    history["loss"].append(float(lossf(net(X), y)))
            step += 1
        epoch += 1
    with torch.no_grad():
        logits = net(X)
        final = {"loss": float(lossf(logits, y)),
                 "accuracy": float((logits.argmax(1) == y).float().mean())}
    flat = torch.cat([p.detach().reshape(-1).cpu() for p in net.parameters()])
    return {"rank": rank, "world": world, "backend": dist.get_backend(), "device": str(dev),
            "history": history, "final": final, "params": flat,
            "hook": None if state is None else state.as_dict()}


def _report(res: dict[str, Any]) -> str:
    line = (f"rank {res['rank']}/{res['world']} ({res['backend']}, {res['device']}): "
            f"loss {res['history']['loss'][0]:.3f} -> {res['final']['loss']:.3f}, "
            f"accuracy {res['final']['accuracy']:.3f}")
    if res["hook"] is not None:
        c = res["hook"]["comm"]
        line += (f"; {res['hook']['compressor']} {res['hook']['params']}: "
                 f"{c['payload_bits'] / 8 / 1e3:.1f} kB of payload, {c['sent_bytes'] / 1e3:.1f}"
                 f" kB sent vs {c['dense_bytes'] / 1e3:.1f} kB for fp32 all-reduce "
                 f"({c['compression_ratio']:.1f}x) in {res['hook']['steps']} steps")
    return line


def main(argv: list[str] | None = None) -> int:
    from theorykit.cli.common import parse_params

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compressor", default="qsgd", help="catalog name, module:Object or "
                    "'none' (DDP's all-reduce)")
    ap.add_argument("-p", "--param", action="append", default=[], help="NAME=VALUE")
    ap.add_argument("--error-feedback", action="store_true")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world", type=int, default=2, help="processes (without torchrun)")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda under torchrun (NCCL)")
    ap.add_argument("--json", default=None, help="write rank 0's result here")
    args = ap.parse_args(argv)
    params = {k: _number(v) for k, v in parse_params(args.param).items()} if args.param else (
        {"s": 4} if args.compressor == "qsgd" else {})
    comp = None if args.compressor == "none" else args.compressor
    kw = {"error_feedback": args.error_feedback, "steps": args.steps, "lr": args.lr,
          "seed": args.seed}
    if "LOCAL_RANK" in os.environ:  # launched by torchrun
        local = int(os.environ["LOCAL_RANK"])
        cuda = args.device.startswith("cuda")
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if cuda else "gloo",
                                timeout=datetime.timedelta(seconds=300))
        res = [train(comp, params, device=f"cuda:{local}" if cuda else "cpu", **kw)]
        dist.destroy_process_group()
        if res[0]["rank"] != 0:
            return 0
    else:
        if args.device != "cpu":
            print("ddp_train: error: --device cuda needs one process per GPU: launch with "
                  "torchrun --nproc_per_node=NGPU", file=sys.stderr)
            return 2
        from theorykit.distributed.launch import run_local

        res = run_local(_train_kw, comp, params, kw, world_size=args.world)
    for r in res:
        print(_report(r))
    if len(res) > 1:
        same = all(torch.equal(r["params"], res[0]["params"]) for r in res)
        print(f"identical parameters on all ranks: {same}")
    if args.json:
        out = {k: v for k, v in res[0].items() if k != "params"}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


def _number(text: str) -> Any:
    """``"4"`` -> 4, ``"0.05"`` -> 0.05, anything else unchanged."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _train_kw(comp: str | None, params: dict[str, Any], kw: dict[str, Any]) -> dict[str, Any]:
    return train(comp, params, **kw)


if __name__ == "__main__":
    sys.exit(main())

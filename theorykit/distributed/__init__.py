"""Real distributed runs: compressed collectives over torch.distributed and a trainer
launchable by torchrun (gloo on CPU, NCCL on GPU)."""

from theorykit.distributed.collectives import (
    CommStats,
    compressed_mean,
    compressed_mean_and_own,
    dense_mean,
)

__all__ = ["CommStats", "compressed_mean", "compressed_mean_and_own", "dense_mean"]

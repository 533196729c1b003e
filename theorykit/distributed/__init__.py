"""Real distributed runs: compressed collectives over torch.distributed, a trainer
launchable by torchrun (gloo on CPU, NCCL on GPU) and a DDP communication hook
(:func:`ddp_hook`) that puts any theorykit compressor into ``DistributedDataParallel``."""

from theorykit.distributed.collectives import (
    CommStats,
    compressed_mean,
    compressed_mean_and_own,
    dense_mean,
)
from theorykit.distributed.ddp_hook import DDPHookState, ddp_hook

__all__ = ["CommStats", "DDPHookState", "compressed_mean", "compressed_mean_and_own",
           "ddp_hook", "dense_mean"]

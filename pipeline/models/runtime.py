"""Where a stage runs: the device, mixed precision, and the process group under torchrun.

`torchrun --nproc_per_node N -m pipeline train ...` sets RANK, WORLD_SIZE and LOCAL_RANK;
`setup` then joins the process group (NCCL on CUDA, gloo on CPU) and picks this rank's GPU.
"""

from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist

from pipeline.errors import OcrpipeError


@dataclass
class Runtime:
    device: torch.device
    amp: bool                 # bf16 autocast (CUDA; the CPU with --cpu-bf16 where it computes bf16)
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def gpu_name(self) -> str | None:
        return torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else None

    @property
    def precision(self) -> str:
        return "bf16" if self.amp else "fp32"

    def autocast(self) -> contextlib.AbstractContextManager:
        """One code path for every device: bf16 autocast where it helps, nothing elsewhere."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        if not self.distributed:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def any(self, flag: bool) -> bool:
        """True on every rank when it is true on any (e.g. a Ctrl-C seen by one rank)."""
        return bool(self.all_reduce_sum([float(flag)])[0]) if self.distributed else flag

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def cpu_computes_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX, through oneDNN); elsewhere
    bf16 is emulated and slower than float32."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def setup(choice: str = "auto", amp: bool = True, cpu_bf16: bool = False) -> Runtime:
    """The device to use (`auto`: CUDA when present), joining torchrun's process group if any.
    `amp`: bf16 autocast on CUDA; `cpu_bf16`: on the CPU as well, where it computes bf16 natively."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    if choice.startswith("cuda") and not cuda:
        raise OcrpipeError(f"--device {choice}: no CUDA device is available here; use --device cpu or auto")
    use_cuda = cuda and choice != "cpu"
    if use_cuda:
        index = local_rank if world_size > 1 else ((torch.device(choice).index or 0) if choice != "auto" else 0)
        device = torch.device("cuda", index)
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True        # bucketed widths keep the shapes few
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", device_id=device if use_cuda else None)
    low = (amp and use_cuda) or (not use_cuda and cpu_bf16 and cpu_computes_bf16())
    return Runtime(device=device, amp=low, rank=rank, world_size=world_size, local_rank=local_rank)


def teardown(runtime: Runtime) -> None:
    """Leave the process group once nothing holds it any more.

    A DistributedDataParallel model sits in reference cycles (its hooks point back at it), so
    it outlives the stage until the garbage collector runs; left to interpreter exit, its gloo
    work can be freed after the interpreter is gone and the process aborts (SIGABRT,
    "terminate called without an active exception") after a training that succeeded.
    """
    if runtime.distributed and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()
        gc.collect()


@contextlib.contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode and no gradients for the block, then the model's mode as it was."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)

"""Data-parallel training over processes with torch.distributed (launched by `torchrun`).

Why explicit gradient all-reduce instead of wrapping each network in DistributedDataParallel:
Algorithm 1 calls D three times and C three times per step (real, reconstructed, prior batches
as separate batches), runs C's forward on fakes with frozen BN statistics, and routes each
objective into its own networks with several `autograd.backward(loss, inputs=...)` calls over one
retained graph. DDP assumes one forward per backward and one backward per iteration (its reducer
hooks would fire once per `backward` call and its buffer broadcast once per forward call), so it
would either fail or need `find_unused_parameters` / `no_sync` contortions. Data parallelism is
simply "average every network's gradient over the ranks before the optimiser step", and that is
what `grad_sync` does: one coalesced `all_reduce` per network, issued asynchronously so the
collectives queue back to back. What is lost against DDP is overlapping the all-reduce with the
backward pass; at CVAE-GAN's size (37–46 M parameters at width 1, 32² to 128²) that is a few ms per step on
NVLink (documented in the README, not measured here: no GPU was available).

The moving-average feature centres (Eq. 2 global f_D, Eq. 4 per-class f_C) are kept identical on
every rank by `reduce_centre_stats`, which sums the batch statistics (feature sums and counts)
over ranks before the update: every rank then computes exactly the centre a single process would
compute from the union of the ranks' features. Its gradient is scaled by the world size so that,
after `grad_sync` averages the ranks' gradients, G receives the single-process gradient of
L_GD / L_GC over the union batch (see `reduce_centre_stats`).

Batch norm: by default each rank normalises with its own batch statistics (as DDP does), and the
running statistics, which only matter in eval mode (grids, sampling, checkpoints), are averaged
over the ranks before every grid and checkpoint. `--sync-bn` converts every BatchNorm to
PyTorch's SyncBatchNorm (CUDA only: PyTorch's SyncBatchNorm rejects CPU tensors), so batch
statistics are those of the global batch.

Only rank 0 writes files (`DistContext.is_main`, `on_main`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from cvaegan.runtime.device import resolve_device
from cvaegan.runtime.errors import CvaeganError

T = TypeVar("T")


@dataclass
class DistContext:
    """Where this process sits in the job. A single process is rank 0 of world size 1, and then
    every collective below is a no-op, so the training loop has one code path."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: torch.device = torch.device("cpu")
    backend: str | None = None
    owns_group: bool = False  # this context initialised the process group and must destroy it

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- collectives used by the training loop --------------------------------------------------

    def reduce_centre_stats(self, t: Tensor) -> Tensor:
        """Sum `t` over ranks (the `reduce` hook of cvaegan.core.centres.FeatureCentres).

        Value: the exact sum over ranks. Gradient: the fake centres' feature sums carry G's
        gradient; the sum over ranks is Σ_r s_r, whose derivative w.r.t. this rank's s_r is 1,
        but every rank computes the same loss from the same global centre, and `grad_sync` then
        AVERAGES the ranks' gradients — so each rank must back-propagate world_size × its own
        share for the average to equal the single-process gradient over the union batch.
        `g + (t − t.detach()) · W` has exactly g's value (the added term is 0) and that gradient.
        """
        if not self.enabled:
            return t
        g = t.detach().clone()
        dist.all_reduce(g)
        if t.requires_grad:
            return g + (t - t.detach()) * self.world_size
        return g

    def grad_sync(self, model: nn.Module) -> Callable[[], None] | None:
        """The `sync_grads` hook of models.train_step: average every gradient over the ranks."""
        if not self.enabled:
            return None
        nets = list(model.nets.values()) if hasattr(model, "nets") else [model]
        world = self.world_size

        def sync() -> None:
            queued = []
            for net in nets:
                grads = [p.grad for p in net.parameters() if p.grad is not None]
                if not grads:
                    continue
                flat = _flatten_dense_tensors(grads)
                queued.append((dist.all_reduce(flat, async_op=True), flat, grads))
            for work, flat, grads in queued:
                work.wait()
                flat.mul_(1.0 / world)
                for g, synced in zip(grads, _unflatten_dense_tensors(flat, grads)):
                    g.copy_(synced)

        return sync

    def broadcast_module(self, module: nn.Module) -> None:
        """Make every rank's parameters and buffers bitwise equal to rank 0's."""
        if not self.enabled:
            return
        tensors = [t.data for t in list(module.parameters()) + list(module.buffers())]
        for dtype in dict.fromkeys(t.dtype for t in tensors):  # ordered: a set's order differs between processes
            group = [t for t in tensors if t.dtype == dtype]
            flat = _flatten_dense_tensors(group)
            dist.broadcast(flat, 0)
            for t, synced in zip(group, _unflatten_dense_tensors(flat, group)):
                t.copy_(synced)

    def average_bn_buffers(self, module: nn.Module) -> None:
        """Average batch-norm running statistics over ranks (they drift apart when each rank
        normalises with its own batch statistics); call on every rank before eval-mode use."""
        if not self.enabled:
            return
        bufs = [b for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                for b in (m.running_mean, m.running_var) if b is not None]
        if not bufs:
            return
        flat = _flatten_dense_tensors(bufs)
        dist.all_reduce(flat)
        flat.mul_(1.0 / self.world_size)
        for b, synced in zip(bufs, _unflatten_dense_tensors(flat, bufs)):
            b.copy_(synced)

    def mean_and_any(self, values: Tensor, flag: bool) -> tuple[Tensor, bool]:
        """Mean of `values` over ranks and whether any rank raised `flag` — one collective, used at
        log intervals only (the loop's one host synchronisation)."""
        if not self.enabled:
            return values, flag
        packed = torch.cat([values.float().reshape(-1), torch.tensor([float(flag)], device=values.device)])
        dist.all_reduce(packed)
        return packed[:-1].reshape(values.shape) / self.world_size, bool(packed[-1].item() > 0)

    def broadcast_object(self, obj: T) -> T:
        """Rank 0's `obj` on every rank (pickled; for setup-time decisions and checkpoints)."""
        if not self.enabled:
            return obj
        box = [obj if self.is_main else None]
        dist.broadcast_object_list(box, 0, device=self.device if self.backend == "nccl" else None)
        return box[0]  # type: ignore[return-value]

    def barrier(self) -> None:
        if self.enabled:
            if self.backend == "nccl":
                dist.barrier(device_ids=[self.device.index or 0])
            else:
                dist.barrier()

    def on_main(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Run `fn` on rank 0 only (file writes); other ranks get None."""
        return fn(*args, **kwargs) if self.is_main else None

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def env_world() -> tuple[int, int, int, int]:
    """(rank, world_size, local_rank, local_world_size) from torchrun's environment variables."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    return rank, world, local_rank, local_world


def in_launched_job() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device_name: str = "auto", timeout_s: float | None = None) -> DistContext:
    """Join the job torchrun started (WORLD_SIZE > 1) or return a single-process context.

    Backend: NCCL when the device is CUDA (each process takes GPU LOCAL_RANK), gloo on the CPU.
    """
    rank, world, local_rank, local_world = env_world()
    device = resolve_device(device_name)
    if world <= 1:
        configure_threads(device, 1)
        return DistContext(device=device)
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise CvaeganError(f"local rank {local_rank} has no GPU: this node has {torch.cuda.device_count()}; "
                               f"use --nproc-per-node ≤ {torch.cuda.device_count()}")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    configure_threads(device, local_world)
    timeout = dt.timedelta(seconds=timeout_s or float(os.environ.get("CVAEGAN_DIST_TIMEOUT_S", "1800")))
    owns = not dist.is_initialized()
    if owns:
        kw: dict[str, Any] = {"device_id": device} if backend == "nccl" else {}
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=timeout, **kw)
    return DistContext(rank, world, local_rank, local_world, device, backend, owns)


def configure_threads(device: torch.device, local_world: int) -> None:
    """CPU threads: the cores this process may use, split between the processes on this node, unless
    the user (or torchrun, which sets OMP_NUM_THREADS=1) chose a number already."""
    if device.type != "cpu" or "OMP_NUM_THREADS" in os.environ:
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores // max(1, local_world)))


def convert_sync_bn(model: nn.Module, ctx: DistContext) -> None:
    """`--sync-bn`: replace every BatchNorm in model.nets with SyncBatchNorm (same state_dict keys)."""
    if ctx.enabled and ctx.device.type != "cuda":
        raise CvaeganError("--sync-bn needs CUDA: PyTorch's SyncBatchNorm does not run on the CPU "
                           "(leave it off; BN running statistics are averaged over processes anyway)")
    for name in list(model.nets.keys()):
        model.nets[name] = nn.SyncBatchNorm.convert_sync_batchnorm(model.nets[name])


def step_seed(seed: int, step: int, rank: int) -> int:
    """Seed of the noise (z, z_p, c_p, flips) for one step of one rank.

    Deriving it from (seed, step, rank) instead of carrying one generator's state through the run
    is what makes a checkpoint world-size independent: there is no per-rank stream to save, and a
    resume with the same number of processes draws exactly the same noise.
    """
    digest = hashlib.blake2b(f"cvaegan-noise|{seed}|{step}|{rank}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def launch(cli_args: list[str], nproc: int, *, cpu: bool) -> int:
    """`cvaegan train --nproc N`: run `python -m cvaegan <cli_args>` in N processes on this
    machine through torch.distributed.run (torchrun's own launcher, in this process), with a
    c10d rendezvous on a free port of 127.0.0.1. Returns the exit code (130 if interrupted).

    Several machines: run torchrun yourself on each node (README, "Training on several GPUs").
    """
    import uuid

    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    if cpu and "OMP_NUM_THREADS" not in os.environ:  # torchrun would set 1; share the cores instead
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count() or 1
        os.environ["OMP_NUM_THREADS"] = str(max(1, cores // nproc))
    args = torchrun.parse_args([
        "--nnodes", "1", "--nproc-per-node", str(nproc), "--max-restarts", "0",
        "--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:0", "--rdzv-id", uuid.uuid4().hex,
        "-m", "cvaegan", *cli_args])
    try:
        torchrun.run(args)
    except ChildFailedError as exc:
        codes = [f.exitcode for f in exc.failures.values()]
        if codes and all(c in (130, -2) for c in codes):
            return 130
        return next((c for c in codes if c and c > 0), 1)
    except SignalException:
        return 130
    return 0

"""`cvaegan train DATA`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from cvaegan.cli import shared
from cvaegan.cli.errors import cli_errors
from cvaegan.core.arch import RESOLUTIONS
from cvaegan.core.family import Family
from cvaegan.families import registry
from cvaegan.pipelines.train import TrainOptions, train
from cvaegan.runtime import distributed
from cvaegan.runtime.device import resolve_device
from cvaegan.runtime.errors import CvaeganError

EPILOG = """[bold]Examples[/]

  cvaegan train data/faces --resolution 64 --steps 20000
  cvaegan train data/faces -r 64 --width 0.5 --minutes 20  [dim]# time budget[/]
  cvaegan train data/faces --model cgan --name faces-cgan --seed 1
  cvaegan train data/faces --preset paper      [dim]# Eq. 7's literal λ[/]
  cvaegan train data/faces --set pair_d_scale=0.3 --lambda1 0.1
  cvaegan train data/faces --name faces-64 --resume  [dim]# continue it[/]
  [dim]# attribute editing (IFcVAE-GAN) on prepared CelebA[/]
  cvaegan train data/celeba --model ifcvaegan \\
      --attributes Smiling,Eyeglasses,Mouth_Slightly_Open
  [dim]# style transfer (SAAE) on prepared characters: fonts as styles[/]
  cvaegan train data/chars --model saae -r 32 --width 0.5
  cvaegan train data/faces --nproc 4 -b 256   [dim]# 4 GPUs, 64 images each[/]
  torchrun --nproc_per_node 8 -m cvaegan train data/faces \\
      -b 512 --sync-bn
  [dim]# on each of 2 nodes[/]
  torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d \\
      --rdzv-endpoint HOST:29400 --rdzv-id faces \\
      -m cvaegan train data/faces -b 1024
"""


def train_cmd(
    ctx: typer.Context,
    data: Path = typer.Argument(..., help="Dataset: DATA/<class>/<image> folders, optionally with dataset.json "
                                "(what `cvaegan prepare` writes), or a dataset.json file."),
    out: Path = typer.Option(Path("runs"), "--out", help="Folder holding run folders."),
    name: str = typer.Option(None, "--name", help="Run folder name (default: <data>-<model>-<resolution>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue runs/<name> from checkpoints/latest.pt."),
    model: str = typer.Option("cvaegan", "--model", help=f"One of {', '.join(registry.model_names())}."),
    resolution: int = typer.Option(64, "--resolution", "-r", help=f"Image side: one of {RESOLUTIONS}."),
    width: float = typer.Option(1.0, "--width", help="Channel multiplier (1.0 = the paper's networks)."),
    latent_dim: int = typer.Option(256, "--latent-dim", help="Size of z."),
    g_layout: str = typer.Option("early", "--g-layout", help="Where G up-samples below 128×128: early "
                                 "(the last convs at full resolution) or late (cvaegan 0.1)."),
    batch_size: int = typer.Option(64, "--batch-size", "-b"),
    steps: int = typer.Option(None, "--steps", help="Training steps (default: --epochs)."),
    epochs: float = typer.Option(None, "--epochs", help="Passes over the data (default 1 when --steps, --epochs "
                                 "and --minutes are unset)."),
    minutes: float = typer.Option(None, "--minutes", help="Train for this many minutes (counted across "
                                  "--resume), or until --steps/--epochs if that comes first. The learning "
                                  "rates fall to 0 over the last lr_decay share of the run."),
    preset: str = typer.Option("default", "--preset", help="Loss weights and learning rates to start from ("
                               + "; ".join(f"{f.name}: {', '.join(f.presets)}" for f in registry.families())
                               + "; paper: Eq. 7's literal λ). Options below override it."),
    lr: float = typer.Option(None, "--lr", help="One learning rate for all four networks."),
    lr_e: float = typer.Option(None, "--lr-e"), lr_g: float = typer.Option(None, "--lr-g"),
    lr_d: float = typer.Option(None, "--lr-d"), lr_c: float = typer.Option(None, "--lr-c"),
    lambda1: float = typer.Option(None, "--lambda1", help="λ1, weight of L_KL (Eq. 5)."),
    lambda2: float = typer.Option(None, "--lambda2", help="λ2, weight of L_G (Eq. 6)."),
    lambda3: float = typer.Option(None, "--lambda3", help="λ3, weight of L_GD (Eq. 2)."),
    lambda4: float = typer.Option(None, "--lambda4", help="λ4, weight of L_GC (Eq. 4)."),
    centre_decay: float = typer.Option(None, "--centre-decay", help="Moving-average decay of the feature centres."),
    set_: list[str] = typer.Option(None, "--set", help="KEY=VALUE for any other loss/optimiser field, e.g. "
                                   "pair_d_scale=0.3, feature_reduction=mean or lr_decay=0 (repeatable)."),
    no_pixel: bool = typer.Option(False, "--no-pixel", help="Ablation (§5.5): drop Eq. 6's pixel term."),
    no_pair_d: bool = typer.Option(False, "--no-pair-d", help="Ablation: drop Eq. 6's f_D term."),
    no_pair_c: bool = typer.Option(False, "--no-pair-c", help="Ablation: drop Eq. 6's f_C term."),
    attributes: str = typer.Option(None, "--attributes", help="Models conditioned on attributes (ifcvaegan): "
                                   "the dataset's targets to learn, comma-separated names or indices "
                                   "(default: all of them)."),
    seed: int = typer.Option(0, "--seed"),
    device: str = shared.DEVICE,
    workers: int = typer.Option(2, "--workers", help="Processes decoding images into the cache."),
    cache_dir: Path = typer.Option(None, "--cache-dir", help="Where the decoded-image cache lives."),
    split: str = typer.Option("train", "--split", help="Manifest split to train on (all: every image)."),
    log_every: int = typer.Option(50, "--log-every"),
    sample_every: int = typer.Option(500, "--sample-every"),
    ckpt_every: int = typer.Option(1000, "--ckpt-every"),
    nproc: int = typer.Option(1, "--nproc", help="Launch this many data-parallel processes on this machine "
                              "(through torch.distributed.run, as torchrun does): one per GPU."),
    sync_bn: bool = typer.Option(False, "--sync-bn", help="Batch-norm statistics over all processes' "
                                 "batches (SyncBatchNorm, CUDA only)."),
    compile_: bool = typer.Option(False, "--compile", help="torch.compile every network (slow first steps; "
                                  "on the CPU it measured slower than eager)."),
    precision: str = typer.Option("auto", "--precision", help="auto, bf16 or fp32. auto: bf16 autocast where "
                                  "the device computes bf16 natively (CUDA; CPUs with AVX512-BF16/AMX), else fp32."),
) -> None:
    """Train CVAE-GAN (or a baseline) on a folder of class subfolders, IFcVAE-GAN on their
    per-image attributes, or SAAE on their style groups (fonts).

    Writes runs/<name>/: checkpoints/latest.pt (+ periodic ones), samples/*.png grids with fixed z,
    log.jsonl with every loss term and images/s, config.json. Ctrl-C saves a checkpoint; --resume
    continues with the same random streams. Under torchrun (or with --nproc) it trains data-parallel:
    --batch-size is the global batch, split over the processes; rank 0 writes the run folder.
    """
    if nproc > 1 and not distributed.in_launched_job():
        code = distributed.launch(_forwarded_args(ctx), nproc, cpu=resolve_device(device).type == "cpu")
        if code:
            raise typer.Exit(code)
        return
    if model not in registry.model_names():
        raise CvaeganError(f"unknown --model '{model}'; choose one of {', '.join(registry.model_names())}")
    family = registry.resolve(model)[0]
    named = dict(lambda1=lambda1, lambda2=lambda2, lambda3=lambda3, lambda4=lambda4, centre_decay=centre_decay,
                 lr_e=lr_e, lr_g=lr_g, lr_d=lr_d, lr_c=lr_c)
    if lr is not None:
        named.update({k: lr for k in family.options if k.startswith("lr_")})
    if no_pixel or no_pair_d or no_pair_c:
        named.update(pixel=not no_pixel, pair_d=not no_pair_d, pair_c=not no_pair_c)
    overrides = family_overrides(family, {k: v for k, v in named.items() if v is not None})
    overrides.update(parse_sets(set_ or []))
    try:
        loss, optim = family.settings(preset, overrides)
    except (ValueError, TypeError) as exc:
        raise CvaeganError(str(exc)) from exc
    # Architecture flags the user did not give stay None: a resume then takes the run's own values.
    arch = {k: v if ctx.get_parameter_source(k).name != "DEFAULT" else None for k, v in
            dict(model=model, resolution=resolution, width=width, latent_dim=latent_dim, g_layout=g_layout).items()}
    opts = TrainOptions(data=data, out=out, name=name, resume=resume, **arch, batch_size=batch_size, steps=steps, epochs=epochs,
                        minutes=minutes,
                        loss=loss, optim=optim, seed=seed, device=device, workers=workers,
                        cache_dir=cache_dir, split=None if split == "all" else split, log_every=log_every,
                        sample_every=sample_every, ckpt_every=ckpt_every, sync_bn=sync_bn, compile=compile_,
                        precision=precision, attributes=_attribute_list(attributes))
    console = Console(stderr=True)
    rank = distributed.env_world()[0]
    try:
        result = train(opts, console)
    except CvaeganError as exc:
        if rank:  # the same error usually reaches every rank; say which one, so none is lost
            raise CvaeganError(f"[rank {rank}] {exc}") from None
        raise
    if rank:
        return
    verb = "interrupted" if result.interrupted else "finished"
    of = f"/{result.total_steps}" if result.total_steps is not None else ""
    console.print(f"{verb} at step {result.step}{of} in {result.seconds:.0f} s; "
                  f"checkpoint: {result.checkpoint}")
    if result.interrupted:
        console.print(f"resume with: cvaegan train {data} --name {result.run_dir.name} --out {out} --resume")
        raise typer.Exit(130)


def _attribute_list(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(a.strip() for a in text.split(",") if a.strip())
    if not names:
        raise CvaeganError("--attributes: give one or more attribute names or indices, comma-separated")
    return names


_FLAG = {"pixel": "--no-pixel", "pair_d": "--no-pair-d", "pair_c": "--no-pair-c"}


def family_overrides(family: Family, named: dict[str, object]) -> dict[str, object]:
    """Named family options (`--lambda1`, `--lr-e`, `--no-pixel`, …) as the family's settings
    fields; an option the chosen model's family does not have is one error line."""
    out: dict[str, object] = {}
    for name, value in named.items():
        if name not in family.options:
            flag = _FLAG.get(name, "--" + name.replace("_", "-"))
            raise CvaeganError(f"{flag} is not an option of the {family.name} family (models "
                               f"{', '.join(m.name for m in family.models)})")
        out[family.options[name]] = value
    return out


def parse_sets(items: list[str]) -> dict[str, object]:
    """`--set KEY=VALUE` pairs: numbers become floats, true/false booleans, the rest strings."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise CvaeganError(f"--set {item!r}: expected KEY=VALUE")
        value: object = raw.strip()
        if raw.strip().lower() in ("true", "false"):
            value = raw.strip().lower() == "true"
        else:
            try:
                value = float(raw)
            except ValueError:
                pass
        out[key.strip()] = value
    return out


def _forwarded_args(ctx: typer.Context) -> list[str]:
    """This command's arguments as the user gave them, minus --nproc, for the launched processes
    (rebuilt from the parsed parameters, so it also works when invoked programmatically)."""
    args: list[str] = ["train"]
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)
        if param.name == "nproc" or source is None or source.name == "DEFAULT":
            continue
        value = ctx.params[param.name]
        if param.param_type_name == "argument":
            args.append(str(value))
        elif getattr(param, "is_flag", False):
            names = param.opts if value else param.secondary_opts
            if names:
                args.append(names[0])
        elif isinstance(value, (list, tuple)):
            for v in value:
                args += [param.opts[0], str(v)]
        elif value is not None:
            args += [param.opts[0], str(value)]
    return args


def register(app: typer.Typer) -> None:
    app.command("train", epilog=EPILOG)(cli_errors(train_cmd))

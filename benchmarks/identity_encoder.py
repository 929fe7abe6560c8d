"""Does the identity encoder I describe people it never saw? (issue 13)

`openset`'s I is trained as a softmax classifier over the training people, and its feature is
the identity vector G draws from. On CelebA (1,552 training people × 5 photos) I memorises its
people and tells unseen ones apart on their real photos only 40 % of the time (README, "Identity
swap"). This trains I alone — the same network (`IdentityEncoder`), the same data, flips as in
training — for `--minutes` of wall time with one of two heads, and every `--eval-every` seconds
scores leave-one-out identification of the TEST people's real photos by the direction of I's
feature (`evaluation.swap.leave_one_out_identification`, the measure `cvaegan evaluate` reports):

  softmax  I's head as in `openset`: a linear layer and cross-entropy
  cosface  CosFace (Wang et al. 2018): logits s·(cos θ_k − m·[k = y]) between the normalised
           feature and normalised class weights, s = 30, m = 0.35 — the margin face-recognition
           networks are trained with to make features separate people they never saw

    python benchmarks/identity_encoder.py SPLIT --minutes 4 --head softmax --out DIR
    python benchmarks/identity_encoder.py SPLIT --minutes 4 --head cosface --out DIR

SPLIT: a dataset whose train and test splits hold different people (`benchmarks/swap.py`'s
OUT/split). Writes DIR/identity-encoder-<head>.json: the curve and the final numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvaegan.core.arch import ModelConfig  # noqa: E402
from cvaegan.data.dataset import build_cache  # noqa: E402
from cvaegan.evaluation.judge import cache_splits, to_float  # noqa: E402
from cvaegan.evaluation.swap import leave_one_out_identification  # noqa: E402
from cvaegan.families.openset.networks import IdentityEncoder  # noqa: E402
from cvaegan.runtime.atomic import atomic_write_json  # noqa: E402

COSFACE_S, COSFACE_M = 30.0, 0.35


def cosface_logits(feature: torch.Tensor, weight: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """s·(cos θ − m at the true class): cosine between normalised features and class weights."""
    cos = F.normalize(feature.float(), dim=1) @ F.normalize(weight.float(), dim=1).T
    if y is not None:
        cos = cos - COSFACE_M * F.one_hot(y, cos.shape[1]).to(cos.dtype)
    return COSFACE_S * cos


@torch.no_grad()
def loo_identification(net: IdentityEncoder, x: torch.Tensor, person: np.ndarray) -> float:
    net.eval()
    f = torch.cat([net(x[i:i + 256])[1].float() for i in range(0, len(x), 256)])
    net.train()
    return leave_one_out_identification(F.normalize(f, dim=1).numpy(), person)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--head", choices=("softmax", "cosface"), default="softmax")
    p.add_argument("--minutes", type=float, default=4.0)
    p.add_argument("--eval-every", type=float, default=60.0, help="seconds between evaluations")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-4, help="Adam, DCGAN betas, as openset's lr_i")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    cache = build_cache(args.data, args.resolution, split=None)
    split = np.asarray(cache_splits(cache))
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    people = np.unique(cache.labels[train])
    remap = torch.full((int(cache.labels.max()) + 1,), -1, dtype=torch.long)
    remap[torch.from_numpy(people)] = torch.arange(len(people))
    if set(people.tolist()) & set(np.unique(cache.labels[test]).tolist()):
        raise SystemExit("error: the train and test splits share people; use an identity-disjoint split")
    x_test = to_float(cache.images, test.tolist())
    net = IdentityEncoder(ModelConfig(num_classes=len(people), resolution=args.resolution, width=args.width,
                                      model="openset"))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.5, 0.999))
    curve = [{"step": 0, "seconds": 0.0, "loo_identification_test": loo_identification(net, x_test, cache.labels[test])}]
    t0 = last = time.perf_counter()
    step = 0
    while time.perf_counter() - t0 < args.minutes * 60:
        rows = train[torch.randint(len(train), (args.batch_size,), generator=gen).numpy()]
        x = to_float(cache.images, rows.tolist())
        flip = torch.rand(len(x), generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        y = remap[torch.from_numpy(cache.labels[rows])]
        logits, feature = net(x)
        if args.head == "cosface":
            logits = cosface_logits(feature, net.fc_out.weight, y)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if time.perf_counter() - last >= args.eval_every:
            with torch.no_grad():
                acc = float(((cosface_logits(feature, net.fc_out.weight, None) if args.head == "cosface"
                              else logits).argmax(1) == y).float().mean())
            curve.append({"step": step, "seconds": round(time.perf_counter() - t0, 1), "train_batch_acc": acc,
                          "loss": loss.item(), "loo_identification_test":
                              loo_identification(net, x_test, cache.labels[test])})
            print(json.dumps(curve[-1]), flush=True)
            last = time.perf_counter()
    final = loo_identification(net, x_test, cache.labels[test])
    rec = {"benchmark": "identity_encoder", "data": str(args.data), "head": args.head, "minutes": args.minutes,
           "steps": step, "train_people": int(len(people)), "train_images": int(len(train)),
           "test_people": int(len(np.unique(cache.labels[test]))), "test_images": int(len(test)),
           "loo_identification_test": final, "curve": curve,
           "cosface": {"s": COSFACE_S, "m": COSFACE_M} if args.head == "cosface" else None,
           "argv": sys.argv, "torch": torch.__version__, "threads": torch.get_num_threads()}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / f"identity-encoder-{args.head}.json", rec)
    print(f"{args.head}: {step} steps, leave-one-out identification of {rec['test_people']} unseen people: "
          f"{final:.1%}")


if __name__ == "__main__":
    main()

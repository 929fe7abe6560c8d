"""`cvaegan edit`: change binary attributes of a face and keep everything else (IFcVAE-GAN).

The edit is G(μ(x), y'): E's identity code μ(x) of the input, and E's own reading ŷ(x) of the
attributes with the ones the user names set to the user's values. Raw photos are detected,
aligned, edited and pasted back as `inpaint` does, inside the face region only (an ellipse of the
aligned crop around the template's eyes, nose and mouth) with a feathered edge: hair, background
and the rest of the photo keep their exact pixels.

With `detail` (`--detail`), the photo's own detail is added back where the edit changes less than
G's reconstruction error (`cvaegan.apps.detail`): the face keeps its sharpness outside what the
edit redraws. Not in the paper; off by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from cvaegan.apps.common import tensor_to_array
from cvaegan.apps.detail import keep_detail
from cvaegan.apps.faces import InputMode, load_inputs
from cvaegan.apps.paste import face_mask, write_face_result  # noqa: F401 (face_mask: re-exported)
from cvaegan.data.images import grid_image, save_png
from cvaegan.data.naming import resolve_name
from cvaegan.runtime.atomic import atomic_write_json
from cvaegan.runtime.errors import CvaeganError
from cvaegan.runtime.outputs import image_output
from cvaegan.session import Session

SWEEP_VALUES = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)


def parse_sets(items: list[str], names: list[str]) -> dict[int, float]:
    """`--set NAME=VALUE` (a name or an index; VALUE a number, 0 = absent, 1 = present) →
    {attribute index: value}. One error line for a malformed item or an unknown name."""
    out: dict[int, float] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise CvaeganError(f"--set {item!r}: expected NAME=VALUE, e.g. Smiling=1")
        try:
            value = float(raw)
        except ValueError:
            raise CvaeganError(f"--set {item!r}: the value must be a number (0 = absent, 1 = present)") from None
        if not math.isfinite(value):
            raise CvaeganError(f"--set {item!r}: the value must be finite")
        idx = resolve_name(key, names, "attribute")
        if idx in out:
            raise CvaeganError(f"--set names {names[idx]} twice")
        out[idx] = value
    return out


@dataclass
class EditRequest:
    """What `cvaegan edit` is asked: a photo or aligned crop, attribute values to set, an attribute
    to sweep, the output."""

    photo: Path
    sets: list[str] = field(default_factory=list)
    sweep: str | None = None
    out: Path | None = None        # None: edit/<photo>.png
    mode: InputMode = "auto"
    detector: Path | None = None
    face: int | None = None
    feather: float | None = None   # raw photos: blend width in crop pixels (None: R/32, at least 2)
    sweep_values: tuple[float, ...] = SWEEP_VALUES
    detail: bool = False           # add the photo's detail back where the edit changes little
    blend: bool = True             # raw photos: Poisson-blend the face into the crop before pasting it back

    def __post_init__(self) -> None:
        if not self.sets and self.sweep is None:
            raise CvaeganError("nothing to edit: give --set NAME=VALUE (e.g. --set Smiling=1) and/or --sweep NAME")
        self.out = Path(self.out) if self.out is not None else Path("edit") / f"{Path(self.photo).stem}.png"


@dataclass
class EditResult:
    out: Path | None       # the edited image (with --set)
    strip: Path | None     # input | reconstruction | edit
    sweep: Path | None     # input | reconstruction | the swept values
    record: dict[str, Any]
    summary: str


def edit_values(session: Session, x: torch.Tensor, changes: dict[int, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """Edit a batch x (N, 3, R, R) on the session's device: the attributes in `changes` set to their
    values, the others as E reads them. Returns (edits, the y' used), on the CPU."""
    a = session.num_classes
    mask = torch.zeros(x.shape[0], a, dtype=torch.bool)
    values = torch.zeros(x.shape[0], a)
    for i, v in changes.items():
        mask[:, i], values[:, i] = True, v
    with session.autocast():
        out, y_new = session.model.edit(x.to(session.device), mask.to(session.device), values.to(session.device))
    return out.float().cpu(), y_new.float().cpu()


def run(session: Session, req: EditRequest) -> EditResult:
    """Edit `req.photo`: the result (pasted back into a raw photo), a before/after strip, an
    optional sweep strip and the JSON record."""
    if session.condition.kind != "attributes":
        raise CvaeganError(f"{session.path}: this model is conditioned on {session.condition.kind}, not attributes")
    names = list(session.condition.names)
    changes = parse_sets(req.sets, names)
    sweep_idx = resolve_name(req.sweep, names, "attribute") if req.sweep is not None else None
    record_file = image_output(req.out)
    res = session.resolution
    inp = load_inputs([req.photo], res, req.mode, req.detector, req.face)[0]
    x = inp.x[None]
    with session.autocast():
        reading = session.model.attributes(x.to(session.device)).float().cpu()[0]
        recon = session.model.reconstruct(x.to(session.device)).float().cpu()
    record: dict[str, Any] = {
        "command": "edit", "checkpoint": str(session.path), "step": session.step, "precision": session.precision,
        "input": inp.record(), "attributes": names,
        "reading": {n: round(float(p), 4) for n, p in zip(names, reading)},
        "set": {names[i]: v for i, v in changes.items()},
        "detail": "kept where the edit changes less than G's error" if req.detail else None}
    out = strip = sweep = None
    lines = []
    if changes:
        edited, y_new = edit_values(session, x, changes)
        if req.detail:
            edited = keep_detail(x, recon, edited)
        strip = req.out.with_name(req.out.stem + "-strip.png")
        save_png(grid_image(torch.cat([x, recon, edited]), nrow=3), strip)
        where = write_face_result(tensor_to_array(edited[0]), inp, req.out, req.feather, req.blend)
        out = req.out
        record.update(condition=[round(v, 4) for v in y_new[0].tolist()], result=str(out), strip=str(strip),
                      pasted=where)
        said = ", ".join(f"{names[i]} {reading[i]:.2f} → {v:g}" for i, v in changes.items())
        lines.append(f"edited {said}: {out} ({where}); before/after in {strip}")
    if sweep_idx is not None:
        vals = list(req.sweep_values)
        edits = [edit_values(session, x, {**changes, sweep_idx: v})[0] for v in vals]
        if req.detail:
            edits = [keep_detail(x, recon, e) for e in edits]
        sweep = req.out.with_name(req.out.stem + "-sweep.png")
        save_png(grid_image(torch.cat([x, recon] + edits), nrow=len(vals) + 2), sweep)
        record.update(sweep={"attribute": names[sweep_idx], "values": vals, "strip": str(sweep)})
        lines.append(f"swept {names[sweep_idx]} over {', '.join(f'{v:g}' for v in vals)} "
                     f"(E reads {reading[sweep_idx]:.2f}): {sweep}")
    atomic_write_json(record_file, record)
    return EditResult(out, strip, sweep, record, "\n".join(lines))

"""Face detection with insightface's SCRFD (5 landmarks) on onnxruntime, never downloading anything.

insightface's `FaceAnalysis` runs the detector at 128×128 *and* 640×640 on every photo and letterboxes
into a fixed square. Here one pass runs at an input that fits the photo (long side ≤ `max_input`, both
sides rounded up to 32, no upscaling), and only when it finds nothing a second pass puts the photo at
half the input's side, surrounded by black: SCRFD's largest anchors are too small for a face that
fills its input, which is exactly what a tight face crop is.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from cvaegan.prepare.align import Face
from cvaegan.runtime.errors import CvaeganError

# insightface's model packs, most accurate first; `default_detector_path` picks the first present.
_PACKS = (("buffalo_l", "det_10g.onnx"), ("antelopev2", "scrfd_10g_bnkps.onnx"),
          ("buffalo_m", "det_2.5g.onnx"), ("buffalo_s", "det_500m.onnx"), ("buffalo_sc", "det_500m.onnx"))


def insightface_root() -> Path:
    return Path(os.environ.get("INSIGHTFACE_HOME", "~/.insightface")).expanduser()


def default_detector_path() -> Path:
    """Where insightface keeps its detector: ~/.insightface/models/<pack>/<det>.onnx (first found,
    else buffalo_l's det_10g.onnx, the path named in the 'not found' error)."""
    root = insightface_root() / "models"
    for pack, name in _PACKS:
        if (root / pack / name).is_file():
            return root / pack / name
    return root / _PACKS[0][0] / _PACKS[0][1]


def missing_detector_message(path: Path) -> str:
    return (f"face detector not found at {path}: pass --detector PATH to an insightface SCRFD ONNX file "
            f"with keypoints (e.g. det_10g.onnx), or unzip insightface's buffalo_l pack "
            f"(github.com/deepinsight/insightface/releases, models/buffalo_l.zip) into "
            f"{insightface_root() / 'models' / 'buffalo_l'}/")


def _round32(v: float) -> int:
    return max(32, int(np.ceil(v / 32.0)) * 32)


class FaceDetector:
    """SCRFD through insightface's model zoo; `detect` returns faces largest first, in photo pixels."""

    def __init__(self, model_path: Path | None = None, *, det_thresh: float = 0.5, nms_thresh: float = 0.4,
                 max_input: int = 640, threads: int = 0, device: str = "cpu"):
        path = Path(model_path).expanduser() if model_path else default_detector_path()
        if not path.is_file():
            raise CvaeganError(missing_detector_message(path))
        self.path = path
        self.det_thresh = float(det_thresh)
        self.max_input = int(max_input)
        import onnxruntime
        from insightface.model_zoo import model_zoo

        onnxruntime.set_default_logger_severity(3)
        options = onnxruntime.SessionOptions()
        if threads > 0:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        providers = ["CPUExecutionProvider"]
        if device != "cpu" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        try:
            # a path ending in .onnx that exists: insightface loads it and never downloads
            model = model_zoo.get_model(str(path), providers=providers, sess_options=options,
                                        static_shape_sessions=False)
        except Exception as exc:  # noqa: BLE001 — a broken or foreign ONNX file is a user error
            raise CvaeganError(f"{path}: not a usable ONNX face detector ({type(exc).__name__}: "
                               f"{' '.join(str(exc).split())[:160]})") from exc
        if model is None or getattr(model, "taskname", None) != "detection" or not getattr(model, "use_kps", False):
            raise CvaeganError(f"{path}: not a face detector with 5 landmarks (need an SCRFD *_kps/_bnkps "
                               f"ONNX file, such as insightface's det_10g.onnx)")
        model.nms_thresh = float(nms_thresh)
        model.det_thresh = self.det_thresh
        self.model = model
        self.static_input = getattr(model, "static_input_size", None)  # (w, h) for fixed-size exports

    @property
    def name(self) -> str:
        return self.path.name

    def detect(self, photo_rgb: np.ndarray) -> list[Face]:
        """All faces above the threshold, sorted by box area (largest first)."""
        h, w = photo_rgb.shape[:2]
        faces = self._pass(photo_rgb, fill=1.0)
        if not faces:
            faces = self._pass(photo_rgb, fill=0.5)
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def _pass(self, rgb: np.ndarray, fill: float) -> list[Face]:
        """Photo scaled so that it covers `fill` of the input on its long side, centred; one forward."""
        h, w = rgb.shape[:2]
        if self.static_input is not None:
            in_w, in_h = self.static_input
            s = min(in_w * fill / w, in_h * fill / h)
        else:
            s = min(1.0 / fill, self.max_input / max(h, w)) * fill  # never upscale the photo itself
            in_w, in_h = _round32(w * s / fill), _round32(h * s / fill)
            if fill < 1.0:
                in_w = in_h = max(in_w, in_h)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        ox, oy = ((in_w - nw) // 2, (in_h - nh) // 2) if fill < 1.0 else (0, 0)
        canvas = np.zeros((in_h, in_w, 3), np.uint8)
        small = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        canvas[oy:oy + nh, ox:ox + nw] = small[..., ::-1]  # insightface's SCRFD takes BGR
        scores_l, boxes_l, kps_l = self.model.forward(canvas, self.det_thresh)
        if not scores_l or sum(x.shape[0] for x in scores_l) == 0:
            return []
        scores = np.vstack(scores_l).ravel()
        boxes = np.vstack(boxes_l)
        kps = np.vstack(kps_l)
        order = np.argsort(-scores, kind="stable")
        det = np.hstack([boxes, scores[:, None]]).astype(np.float32)[order]
        kps = kps[order]
        keep = self.model.nms(det)
        fx, fy = nw / w, nh / h
        faces = []
        for i in keep:
            b = det[i, :4].copy()
            b[[0, 2]] = (b[[0, 2]] - ox) / fx
            b[[1, 3]] = (b[[1, 3]] - oy) / fy
            k = kps[i].astype(np.float32).copy()
            k[:, 0] = (k[:, 0] - ox) / fx
            k[:, 1] = (k[:, 1] - oy) / fy
            faces.append(Face(bbox=b.astype(np.float32), score=float(det[i, 4]), landmarks=k))
        return faces

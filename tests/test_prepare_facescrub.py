"""FaceScrub `--download` and the downloader, against a local http.server on 127.0.0.1 only (no network)."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import threading
import time
from collections.abc import Iterator

import pytest
from rich.console import Console

from cvaegan.prepare.download import DownloadConfig, DownloadError, fetch

# The test server is on 127.0.0.1, which the downloader refuses unless private hosts are allowed.
FAST = DownloadConfig(timeout=3.0, retries=2, max_bytes=1_000_000, backoff=0.01, allow_private_hosts=True)


def _png_bytes(side: int = 160) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    log: list[tuple[str, str | None]] = []
    flaky_done: set[str] = set()

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):  # noqa: N802
        self.log.append((self.path, self.headers.get("Range")))
        if self.path == "/slow":  # a byte at a time, each well within the read timeout
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.1)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                pass
            return
        if self.path == "/redirect-file":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        body = self.files.get(self.path.split("?")[0])
        if body is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            self.wfile.write(body[start:])
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path.startswith("/flaky") and self.path not in self.flaky_done:
            self.flaky_done.add(self.path)  # first time: half the body, then hang up
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture()
def server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("H", (_Handler,), {"files": {}, "log": [], "flaky_done": set()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_fetch_verifies_resumes_caps_and_refuses_other_schemes(server, tmp_path):
    base, h = server
    body = _png_bytes()
    sha = hashlib.sha256(body).hexdigest()
    h.files.update({"/ok.bin": body, "/flaky.bin": body, "/big.bin": b"x" * 2_000_000, "/text.bin": b"<html>no</html>"})
    assert fetch(f"{base}/ok.bin", tmp_path / "ok.bin", sha, FAST).read_bytes() == body
    # a transfer cut in half is resumed with a Range request, then verified
    assert fetch(f"{base}/flaky.bin", tmp_path / "flaky.bin", sha, FAST).read_bytes() == body
    assert any(p == "/flaky.bin" and r == f"bytes={len(body) // 2}-" for p, r in h.log)
    cases = [("/ok.bin", "0" * 64, "sha256_mismatch"), ("/missing.jpg", None, "dead_url"),
             ("/big.bin", None, "too_large"), ("/redirect-file", None, "bad_url"), ("/text.bin", None, "not_an_image")]
    for path, digest, reason in cases:
        with pytest.raises(DownloadError) as err:
            fetch(f"{base}{path}", tmp_path / "x.bin", digest, FAST)
        assert err.value.reason == reason
        assert not (tmp_path / "x.bin").exists() and not (tmp_path / "x.bin.part").exists()
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/a.jpg", "javascript:alert(1)", "http://[::1/x", "http:///a.jpg"):
        with pytest.raises(DownloadError) as err:
            fetch(url, tmp_path / "y.bin", None, FAST)
        assert err.value.reason == "bad_url"
    with pytest.raises(DownloadError) as err:  # nothing listens there: bounded retries, then a reject
        fetch("http://127.0.0.1:9/a.jpg", tmp_path / "z.bin", None, FAST)
    assert err.value.reason == "download_failed"


@pytest.mark.data
def test_facescrub_download_picks_listed_face_and_sanitises_names(server, test_data, tmp_path):
    from cvaegan.data.manifest import index_dataset
    from cvaegan.prepare.common import PrepareOptions
    from cvaegan.prepare.detect import FaceDetector
    from cvaegan.prepare.io import load_photo
    from cvaegan.prepare.runner import prepare

    base, h = server
    model = test_data / "models" / "scrfd_500m_kps.onnx"
    det = FaceDetector(model)
    photos = sorted((test_data / "faces" / "celeba_wild" / "images" / "7203").glob("*.jpg"))[:2]
    rows = ["name\timage_id\tface_id\turl\tbbox\tsha256"]
    for i, (name, photo) in enumerate(zip(["Jane Doe", "../../Evil Name"], photos)):
        data = photo.read_bytes()
        h.files[f"/img{i}.jpg"] = data
        box = det.detect(load_photo(photo))[0].bbox
        box_text = ",".join(str(int(v)) for v in box + [-3, 2, 4, -1])  # listed boxes are rough
        rows.append(f"{name}\t{100 + i}\t{200 + i}\t{base}/img{i}.jpg\t{box_text}\t{hashlib.sha256(data).hexdigest()}")
    rows.append(f"Jane Doe\t102\t202\t{base}/img0.jpg\t10,10,60,60\t{'0' * 64}")         # wrong sha256
    rows.append(f"Jane Doe\t103\t203\t{base}/gone.jpg\t10,10,60,60\t{'1' * 64}")         # dead URL
    rows.append(f"Jane Doe\t104\t204\tfile:///etc/passwd\t10,10,60,60\t{'2' * 64}")      # not http(s)
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "facescrub_actors.txt").write_text("\n".join(rows) + "\n")
    opts = dict(kind="facescrub", raw=raw, out=tmp_path / "out", workers=1, detector=model, download=True,
                timeout=3.0, retries=1, allow_private_hosts=True)
    res = prepare(PrepareOptions(**opts), Console(stderr=True, quiet=True), show_progress=False)
    assert res.kept == 2, res.per_reason
    assert {k: v for k, v in res.per_reason.items() if k != "extra_face"} == \
        {"sha256_mismatch": 1, "dead_url": 1, "bad_url": 1}
    manifest = index_dataset(tmp_path / "out").manifest
    names = {c["name"]: c["folder"] for c in manifest["classes"]}
    assert names == {"../../Evil Name": "Evil_Name", "Jane Doe": "Jane_Doe"}
    assert sorted(p.name for p in raw.iterdir() if p.is_dir()) == ["Evil_Name", "Jane_Doe"]
    assert all(p.resolve().is_relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert {it["face_id"] for it in manifest["items"]} == {"200", "201"}
    rejects = [json.loads(x) for x in (tmp_path / "out" / "rejects.jsonl").read_text().splitlines()]
    assert {r["reason"] for r in rejects if r["reason"] != "extra_face"} == {"sha256_mismatch", "dead_url", "bad_url"}

    requests_before = len(h.log)
    again = prepare(PrepareOptions(**opts), Console(stderr=True, quiet=True), show_progress=False)
    assert again.processed == 0 and again.kept == 2 and len(h.log) == requests_before

    # the same raw folder without --download: the downloaded files are found in RAW/<name>/
    shutil.rmtree(tmp_path / "out")
    offline = prepare(PrepareOptions(**{**opts, "download": False}), Console(stderr=True, quiet=True),
                      show_progress=False)
    assert offline.kept == 2 and len(h.log) == requests_before


def test_fetch_refuses_private_hosts_and_slow_servers(server, tmp_path):
    """SSRF: loopback (and link-local, private) peers are refused by default, also when reached by a
    redirect; a server trickling bytes within every read timeout still meets the overall deadline."""
    base, h = server
    h.files["/ok.png"] = _png_bytes(32)
    strict = DownloadConfig(timeout=3.0, retries=0, backoff=0.01)
    for url in (f"{base}/ok.png", base.replace("127.0.0.1", "localhost") + "/ok.png"):
        with pytest.raises(DownloadError) as err:
            fetch(url, tmp_path / "p.png", None, strict)
        assert err.value.reason == "private_host"
        assert not list(tmp_path.iterdir())
    t0 = time.monotonic()
    with pytest.raises(DownloadError) as err:
        fetch(f"{base}/slow", tmp_path / "s.bin", None,
              DownloadConfig(timeout=3.0, retries=1, backoff=0.01, deadline=1.0, allow_private_hosts=True))
    assert err.value.reason == "too_slow" and time.monotonic() - t0 < 5
    assert not list(tmp_path.iterdir())

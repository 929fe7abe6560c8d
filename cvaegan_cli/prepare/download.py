"""`prepare facescrub --download`: fetch listed images with timeouts, retries, resumption, a size cap
and sha256 checks. Only http(s), also after redirects; files land only where the caller says (a
sanitised name under RAW). A dead URL is an outcome (`DownloadError.reason`), never a crash."""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class DownloadConfig:
    timeout: float = 20.0           # seconds, connect and each read
    retries: int = 3                # extra attempts after network errors and 5xx/408/429
    max_bytes: int = 20 * 1024 * 1024
    backoff: float = 1.0            # seconds, doubled each retry
    user_agent: str = "cvaegan-prepare/0.1 (+FaceScrub)"


class DownloadError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise DownloadError("bad_url", f"redirect to a non-http(s) URL: {newurl[:120]}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects())


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise DownloadError("bad_url", f"not an http(s) URL: {url[:120]}")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(url: str, dest: Path, sha256: str | None = None, cfg: DownloadConfig | None = None) -> Path:
    """Download `url` to `dest` (via dest.part, resumed with a Range request after a broken
    transfer or an interrupted run), verify `sha256`, then rename into place."""
    cfg = cfg or DownloadConfig()
    check_url(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last = "no attempt"
    for attempt in range(cfg.retries + 1):
        if attempt:
            time.sleep(cfg.backoff * 2 ** (attempt - 1))
        start = part.stat().st_size if part.is_file() else 0
        headers = {"User-Agent": cfg.user_agent}
        if start:
            headers["Range"] = f"bytes={start}-"
        try:
            if _transfer(urllib.request.Request(url, headers=headers), part, start, cfg):
                break
            last = "connection closed before the end of the file"
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and start:  # nothing left to send: .part may be complete
                break
            if 300 <= exc.code < 400:  # urllib refuses redirects to other schemes (file:, data:) and loops
                part.unlink(missing_ok=True)
                raise DownloadError("bad_url", f"refused redirect: {' '.join(str(exc.reason).split())[:120]}") from exc
            if exc.code in (408, 429) or exc.code >= 500:
                last = f"HTTP {exc.code}"
                continue
            part.unlink(missing_ok=True)
            raise DownloadError("dead_url", f"HTTP {exc.code} {exc.reason}") from exc
        except DownloadError:
            raise
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            last = f"{type(exc).__name__}: {reason}"
    else:
        raise DownloadError("download_failed", f"gave up after {cfg.retries + 1} attempts ({last})")
    if not part.is_file():
        raise DownloadError("download_failed", "nothing was downloaded")
    if sha256:
        got = sha256_file(part)
        if got != sha256.lower():
            part.unlink(missing_ok=True)
            raise DownloadError("sha256_mismatch", f"sha256 {got[:12]}… differs from the listed {sha256[:12]}…")
    with open(part, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(part, dest)
    return dest


def _transfer(req: urllib.request.Request, part: Path, start: int, cfg: DownloadConfig) -> bool:
    """One request; True when the whole body arrived. Raises DownloadError for the size cap."""
    with _OPENER.open(req, timeout=cfg.timeout) as resp:
        check_url(resp.geturl())
        resumed = start > 0 and resp.status == 206
        if not resumed:
            start = 0
        length = resp.headers.get("Content-Length")
        expected = start + int(length) if length and length.isdigit() else None
        if expected is not None and expected > cfg.max_bytes:
            part.unlink(missing_ok=True)
            raise DownloadError("too_large", f"{expected} bytes > the {cfg.max_bytes}-byte cap")
        total = start
        with open(part, "ab" if resumed else "wb") as fh:
            while True:
                chunk = resp.read(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > cfg.max_bytes:
                    fh.close()
                    part.unlink(missing_ok=True)
                    raise DownloadError("too_large", f"more than the {cfg.max_bytes}-byte cap")
                fh.write(chunk)
        return expected is None or total >= expected

"""`prepare facescrub --download`: fetch listed images with timeouts, an overall deadline, retries,
resumption, a size cap and sha256 checks. Only http(s), also after redirects; only public hosts
(the address actually connected to is checked, so neither a redirect nor a DNS answer that changes
between lookups reaches loopback, link-local or private networks) unless the caller allows private
hosts; only images are kept. Files land only where the caller says (a sanitised name under RAW).
A dead or refused URL is an outcome (`DownloadError.reason`), never a crash."""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


@dataclass
class DownloadConfig:
    timeout: float = 20.0           # seconds, connect and each read
    retries: int = 3                # extra attempts after network errors and 5xx/408/429
    max_bytes: int = 20 * 1024 * 1024
    backoff: float = 1.0            # seconds, doubled each retry
    deadline: float = 120.0         # seconds for one file, all attempts and reads together
    allow_private_hosts: bool = False
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


def _public_socket(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    """`socket.create_connection`, refusing a peer that is not a public unicast address. It runs
    before TLS and before any request, for every connection a redirect opens too."""
    sock = socket.create_connection(address, *args, **kwargs)
    addr = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if not addr.is_global or addr.is_multicast:
        sock.close()
        raise DownloadError("private_host", f"{address[0]} is {addr}, not a public address "
                                            "(--allow-private-hosts to fetch from it)")
    return sock


class _PublicHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _public_socket  # what HTTPConnection.connect opens its socket with


class _PublicHTTPSConnection(_PublicHTTPConnection, http.client.HTTPSConnection):
    pass


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(_PublicHTTPConnection, req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(_PublicHTTPSConnection, req, context=self._context)


# No ProxyHandler: through a proxy the checked peer would be the proxy, not the host.
_PUBLIC_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _HttpOnlyRedirects(),
                                             _PublicHTTPHandler(), _PublicHTTPSHandler())
_ANY_OPENER = urllib.request.build_opener(_HttpOnlyRedirects())


def check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket: http://[::1/x
        raise DownloadError("bad_url", f"malformed URL: {url[:120]}") from exc
    if parts.scheme.lower() not in ("http", "https") or not host:
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
    deadline = time.monotonic() + cfg.deadline
    for attempt in range(cfg.retries + 1):
        if attempt:
            time.sleep(min(cfg.backoff * 2 ** (attempt - 1), max(0.0, deadline - time.monotonic())))
        if time.monotonic() >= deadline:
            last = f"the {cfg.deadline:g} s deadline passed"
            break
        start = part.stat().st_size if part.is_file() else 0
        headers = {"User-Agent": cfg.user_agent}
        if start:
            headers["Range"] = f"bytes={start}-"
        try:
            if _transfer(urllib.request.Request(url, headers=headers), part, start, cfg, deadline):
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
            if isinstance(reason, DownloadError):  # urllib wraps what the connection raised
                part.unlink(missing_ok=True)
                raise reason from exc
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
    if not _is_image(part):
        part.unlink(missing_ok=True)
        raise DownloadError("not_an_image", "the server sent something that is not an image")
    with open(part, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(part, dest)
    return dest


def _is_image(path: Path) -> bool:
    """Whether PIL recognises the file's header (reads the header only, decodes nothing)."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return bool(im.format)
    except Image.DecompressionBombError:
        return True  # an image; prepare rejects it as a decompression bomb
    except (UnidentifiedImageError, OSError, ValueError):
        return False


def _transfer(req: urllib.request.Request, part: Path, start: int, cfg: DownloadConfig, deadline: float) -> bool:
    """One request; True when the whole body arrived. Raises DownloadError for the size cap and
    the deadline (a server trickling a byte per --timeout would otherwise hold it for ever)."""
    opener = _ANY_OPENER if cfg.allow_private_hosts else _PUBLIC_OPENER
    with opener.open(req, timeout=min(cfg.timeout, max(0.1, deadline - time.monotonic()))) as resp:
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
                chunk = resp.read1(1 << 16)  # returns after one socket read: the deadline is checked often
                if not chunk:
                    break
                total += len(chunk)
                if time.monotonic() > deadline:
                    fh.close()
                    part.unlink(missing_ok=True)
                    raise DownloadError("too_slow", f"not finished within the {cfg.deadline:g} s deadline")
                if total > cfg.max_bytes:
                    fh.close()
                    part.unlink(missing_ok=True)
                    raise DownloadError("too_large", f"more than the {cfg.max_bytes}-byte cap")
                fh.write(chunk)
        return expected is None or total >= expected

"""``nasbench-lab download NAME`` and ``nasbench-lab import NAME PATH``.

Downloads are resumable and checked: bytes go to ``<file>.part`` (an HTTP ``Range``
request continues a previous attempt), a progress bar shows them, the size and the
published sha256 (where one is published) are verified, and only then is the file renamed
to its final name. A size shortfall keeps the ``.part`` for the next attempt; a sha256
mismatch removes it (a wrong file cannot be repaired by resuming) and raises
``ChecksumError``. When the server cannot be reached the error says which file to fetch
from where, where to put it, and the ``import`` command to run next.

>>> path = download("nb101")                     # doctest: +SKIP
>>> cache = import_file("nb101", path)           # builds the compact cache  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .. import paths
from .base import BenchmarkFileError
from .catalogue import DOWNLOADS, Download, download_names


#: the official files (the catalogue's :data:`~.catalogue.DOWNLOADS`, under the names this
#: module has always used)
Entry = Download
CATALOGUE: dict[str, Download] = DOWNLOADS


class DownloadError(RuntimeError):
    """A download failed (unreachable host, interrupted transfer, wrong size or content)."""


#: format -> (description, test of the first bytes)
FORMATS = {
    "tfrecord": ("a TFRecord file", lambda head: _tfrecord_head_ok(head)),
    "torch": ("a torch .pth file (zip archive or pickle)",
              lambda head: head[:4] == b"PK\x03\x04" or (head[:1] == b"\x80" and head[1:2] in b"\x02\x03\x04\x05")),
    "zip": ("a zip archive", lambda head: head[:4] == b"PK\x03\x04"),
}


def _tfrecord_head_ok(head: bytes) -> bool:
    from ._formats.tfrecord import masked_crc

    return len(head) >= 12 and masked_crc(head[:8]) == int.from_bytes(head[8:12], "little")


def _describe(head: bytes) -> str:
    low = head.lstrip().lower()
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in low[:512]:
        return "an HTML page (an error, login or confirmation page saved in place of the file)"
    if low.startswith((b"<?xml", b"<error")):
        return "an XML document (a server error message)"
    if low.startswith((b"{", b"[")):
        return "a JSON document (an API error message?)"
    return f"bytes starting {bytes(head[:16])!r}"


def format_problem(path: str | Path, fmt: str) -> str | None:
    """Why ``path`` is not a file of format ``fmt`` (see ``FORMATS``), or None when it looks right."""
    if not fmt:
        return None
    what, ok = FORMATS[fmt]
    with open(path, "rb") as f:
        head = f.read(1024)
    if not head:
        return f"{path} is empty, not {what}"
    if ok(head):
        return None
    return f"{path} is not {what}: it holds {_describe(head)}"


def check_format(path: str | Path, fmt: str, what: str = "") -> None:
    """Raise ``BenchmarkFileError`` when ``path`` is not a file of format ``fmt``."""
    why = format_problem(path, fmt)
    if why:
        raise BenchmarkFileError(f"{what + ': ' if what else ''}{why}; fetch the file again "
                                 "(`nasbench-lab download NAME` explains from where)")


class ChecksumError(DownloadError):
    """The downloaded bytes do not match the published sha256."""


def downloads_dir() -> Path:
    p = paths.cache_dir() / "downloads"
    p.mkdir(parents=True, exist_ok=True)
    return p


def _entry(name: str) -> Entry:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise KeyError(f"unknown download {name!r}; known: {', '.join(CATALOGUE)}") from None


def manual_instructions(entry: Entry, target: Path, url: str | None = None, reason: str = "") -> str:
    """What to do by hand: which file, from where, where to put it, what to run next."""
    why = f"{reason}\n" if reason else ""
    check = f"  sha256: {entry.sha256}\n" if entry.sha256 else "  (no published checksum)\n"
    return (f"{why}Fetch {entry.filename} ({entry.approx_size}) from\n  {url or entry.url}\n"
            f"{check}put it at\n  {target}\nthen run\n  nasbench-lab import {entry.import_as} {target}")


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def download(name: str, dest: str | Path | None = None, url: str | None = None, *,
             progress: bool = True, retries: int = 2, timeout: float = 30.0,
             chunk: int = 1 << 20) -> Path:
    """Fetch catalogue file ``name`` into ``dest`` (default ``data/cache/downloads``).

    Resumes a previous ``.part``; verifies size and sha256 where known; renames into place
    atomically. ``retries``: automatic resumptions after an interrupted transfer.
    """
    entry = _entry(name)
    folder = Path(dest) if dest is not None else downloads_dir()
    if folder.exists() and not folder.is_dir():
        raise DownloadError(f"--dest {folder} is a file; pass the folder to download into")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create the folder {folder} ({e.strerror or e})") from None
    if url is not None:
        parts = urllib.parse.urlsplit(str(url))
        scheme = parts.scheme.lower()
        if not ((scheme in ("http", "https", "ftp") and parts.netloc) or scheme == "file"):
            raise DownloadError(f"--url {url!r} is not a URL (expected http://... or https://...)")
    final = folder / entry.filename
    if final.exists():
        why = format_problem(final, entry.format)
        if why:
            raise DownloadError(f"{why}; delete it and download again")
        return final
    if entry.manual and url is None:
        raise DownloadError(manual_instructions(
            entry, final, reason=f"{entry.filename} is hosted where a plain HTTP client cannot "
                                 f"fetch it ({entry.note})."))
    src = url or entry.url
    part = final.with_name(final.name + ".part")
    attempt = 0
    while True:
        try:
            _fetch(src, part, entry, progress, timeout, chunk)
            break
        except _Interrupted as e:
            if attempt >= retries:
                raise DownloadError(f"download of {entry.filename} interrupted after "
                                    f"{part.stat().st_size if part.exists() else 0:,} bytes ({e}); "
                                    f"the partial file {part} is kept: run the same command again "
                                    "to resume") from None
            attempt += 1
            time.sleep(min(2.0 ** attempt, 10.0) * 0.1)
    _verify(part, entry, final)
    os.replace(part, final)
    return final


class _Interrupted(Exception):
    pass


def _fetch(src: str, part: Path, entry: Entry, progress: bool, timeout: float, chunk: int) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "nasbench-lab"}
    if have:
        headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(src, headers=headers)
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: the part is complete
            return
        raise DownloadError(f"{src} answered HTTP {e.code} {e.reason}\n"
                            + manual_instructions(entry, part.with_name(entry.filename), src)) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(manual_instructions(
            entry, part.with_name(entry.filename), src,
            reason=f"Cannot download {entry.filename}: {src} is unreachable ({reason}).")) from None
    with resp:
        status = getattr(resp, "status", 200)
        length = resp.headers.get("Content-Length")
        if have and status == 206:
            mode, start = "ab", have
        else:  # the server ignored the Range: start over
            mode, start = "wb", 0
        total = start + int(length) if length is not None else entry.size
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=entry.filename,
                       file=sys.stderr)
        got = start
        try:
            with open(part, mode) as f:
                while True:
                    try:
                        block = resp.read(chunk)
                    except (http.client.IncompleteRead, ConnectionError, socket.timeout, OSError) as e:
                        raise _Interrupted(str(e) or type(e).__name__) from None
                    if not block:
                        break
                    f.write(block)
                    got += len(block)
                    if bar is not None:
                        bar.update(len(block))
        finally:
            if bar is not None:
                bar.close()
        if total is not None and got < total:
            raise _Interrupted(f"connection closed at {got:,} of {total:,} bytes")


def _verify(part: Path, entry: Entry, final: Path) -> None:
    why = format_problem(part, entry.format)
    if why:  # resuming cannot turn a page into the file: start over next time
        part.unlink()
        raise DownloadError(f"{why.replace(str(part), entry.filename)}; the download was removed. Check "
                            "the address (a mirror must serve the file itself), or fetch it by hand:\n"
                            + manual_instructions(entry, final))
    size = part.stat().st_size
    if entry.min_size is not None and not entry.sha256 and size < entry.min_size:
        raise DownloadError(f"{part}: {size:,} bytes, far less than {entry.filename} ({entry.approx_size}); "
                            "the partial file is kept, run the same command again to resume")
    if entry.size is not None and size != entry.size:
        raise DownloadError(f"{part}: {size:,} bytes, expected {entry.size:,}; the partial file is "
                            "kept, run the same command again to resume")
    if entry.sha256:
        digest = sha256_of(part)
        if digest != entry.sha256:
            part.unlink()
            raise ChecksumError(f"{entry.filename}: sha256 {digest} does not match the published "
                                f"{entry.sha256}; the downloaded file was removed (a wrong file cannot "
                                "be repaired by resuming). Try again, or fetch it by hand:\n"
                                + manual_instructions(entry, final))


def import_file(name: str, path: str | Path, progress: bool = True, allow_partial: bool = False) -> Path:
    """Import an official file into the compact cache; return the cache path.
    ``allow_partial``: accept an NB101 file with fewer cells or repeats than it should have
    (loudly, and the cache is flagged)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if name in ("nb101", "nb101-full"):
        from . import nb101

        return nb101.import_tfrecord(path, progress=progress, allow_partial=allow_partial)
    if name == "nb201":
        from . import nb201

        if path.suffix.lower() == ".pth":
            return nb201.import_pth(path)
        if nb201._is_table(path):  # tables load directly: nothing to build
            return path
        raise BenchmarkFileError(f"nb201: {path} is neither the official .pth nor a CSV/Parquet table")
    if name == "nb301":
        import importlib

        mod = importlib.import_module("nasbench_lab.benchmarks.nb301")
        fn = getattr(mod, "import_path", None)
        if fn is None:
            raise NotImplementedError("the nb301 module offers no import_path(path) yet")
        return fn(path)
    raise KeyError(f"unknown import {name!r}; known: {', '.join(download_names())}")


def cli_download(args) -> int:
    """``nasbench-lab download NAME [--url URL] [--dest DIR]``."""
    try:
        path = download(args.name, dest=getattr(args, "dest", None), url=getattr(args, "url", None))
    except (DownloadError, KeyError) as e:
        print(str(e).strip("'\""), file=sys.stderr)
        return 1
    entry = _entry(args.name)
    print(f"{path}\nnext: nasbench-lab import {entry.import_as} {path}")
    return 0


def cli_import(args) -> int:
    """``nasbench-lab import NAME PATH``."""
    t0 = time.perf_counter()
    try:
        out = import_file(args.name, args.path, allow_partial=bool(getattr(args, "allow_partial", False)))
    except (BenchmarkFileError, FileNotFoundError, KeyError, NotImplementedError) as e:
        print(f"import failed: {e}", file=sys.stderr)
        return 1
    print(f"{out} ({out.stat().st_size / 1e6:,.1f} MB, {time.perf_counter() - t0:,.1f} s)")
    return 0


__all__ = ["CATALOGUE", "Entry", "download", "import_file", "DownloadError", "ChecksumError", "FORMATS",
           "check_format", "format_problem",
           "cli_download", "cli_import", "manual_instructions"]

"""Downloads into a cache folder: resume, size and checksum check, parallel, progress and cancel.

Every file is written to ``<name>.part`` and renamed to ``<name>`` only once it is complete and
matches CMR's size and checksum (where CMR gives them), so a half-written file is never taken for
a file. A cancelled or interrupted run leaves ``.part`` files that the next run resumes with an
HTTP ``Range`` request. The HTTP session is earthaccess's (its Earthdata Login redirect handling
and bearer token).
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

import requests

from gmi_engine.acquire.errors import DownloadCheckError, DownloadError, EarthdataLoginError
from gmi_engine.acquire.search import Ancillaries, GranuleRecord, RemoteFile
from gmi_engine.progress import Cancelled, Progress, fraction, report

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20
RETRIES = 3
"""Times a dropped connection is resumed before the file fails."""
TIMEOUT_S = 60

#: Sub-folder of the cache folder for each product.
FOLDERS = {"AST_L1T": "aster", "MCD19A2": "mcd19a2", "MOD09A1": "mod09a1", "ASTGTM": "gdem"}


@dataclass
class DownloadResult:
    """What a :func:`download` run did."""

    downloaded: List[Path] = field(default_factory=list)
    skipped: List[Path] = field(default_factory=list)
    cancelled: bool = False

    @property
    def files(self) -> List[Path]:
        """Every complete file (downloaded now or already there)."""
        return sorted(self.downloaded + self.skipped)


class _Cancel(Exception):
    """Internal: the caller asked to stop."""


def _checksum_ok(path: Path, remote: RemoteFile) -> bool:
    if not remote.checksum or not remote.checksum_algorithm:
        return True
    name = remote.checksum_algorithm.lower().replace("-", "")
    try:
        digest = hashlib.new(name)
    except ValueError:
        log.warning("%s: checksum algorithm %s unknown to hashlib, not checked", remote.name,
                    remote.checksum_algorithm)
        return True
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest().lower() == remote.checksum.lower()


def _complete(path: Path, remote: RemoteFile) -> bool:
    return path.is_file() and (remote.size is None or path.stat().st_size == remote.size)


class _Counter:
    """Bytes done over all files, reported as a fraction (thread safe)."""

    def __init__(self, total: int, progress: Optional[Progress]) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self.reported = 0.0
        self.lock = threading.Lock()

    def add(self, count: int, name: str) -> None:
        with self.lock:
            self.done += count  # negative when a server ignored Range and a file restarts
            self.reported = max(self.reported, fraction(self.done, self.total))
            report(self.progress, self.reported, name)


def _fetch(session: requests.Session, remote: RemoteFile, target: Path, counter: _Counter,
           cancelled: Cancelled) -> None:
    """Download ``remote`` to ``target`` through ``target.part``; raises on failure or cancel."""
    part = target.with_name(target.name + ".part")
    host = urlsplit(remote.url).hostname
    for attempt in range(RETRIES + 1):
        offset = part.stat().st_size if part.exists() else 0
        if remote.size is not None and offset >= remote.size:
            break
        headers = {"Range": "bytes={}-".format(offset)} if offset else {}
        try:
            with session.get(remote.url, headers=headers, stream=True, timeout=TIMEOUT_S) as response:
                if response.status_code in (401, 403):
                    raise EarthdataLoginError("Earthdata login failed for {} (HTTP {} from {}): check "
                                              "EARTHDATA_TOKEN / ~/.netrc and that the data's EULA is accepted"
                                              .format(remote.name, response.status_code, host))
                if response.status_code == 416:
                    break
                if response.status_code not in (200, 206):
                    raise DownloadError("{}: HTTP {} from {}".format(remote.name, response.status_code, host))
                mode = "ab" if response.status_code == 206 else "wb"
                if mode == "wb" and offset:
                    counter.add(-offset, remote.name)
                with open(part, mode) as out:
                    for chunk in response.iter_content(CHUNK_BYTES):
                        if cancelled():
                            raise _Cancel()
                        out.write(chunk)
                        counter.add(len(chunk), remote.name)
            if remote.size is None or part.stat().st_size >= remote.size:
                break
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            if attempt == RETRIES:
                raise DownloadError("{}: connection to {} dropped {} times ({})".format(
                    remote.name, host, RETRIES + 1, type(exc).__name__)) from None
            log.info("%s: connection dropped, resuming (%d/%d)", remote.name, attempt + 1, RETRIES)
    size = part.stat().st_size if part.exists() else 0
    if remote.size is not None and size != remote.size:
        part.unlink(missing_ok=True)
        raise DownloadCheckError("{}: {} bytes received, CMR gives {}; deleted".format(remote.name, size, remote.size))
    if not _checksum_ok(part, remote):
        part.unlink(missing_ok=True)
        raise DownloadCheckError("{}: {} checksum differs from CMR's; deleted".format(
            remote.name, remote.checksum_algorithm))
    os.replace(part, target)


def plan(records: Union[Iterable[GranuleRecord], Ancillaries], folder: Union[str, Path]
         ) -> List[Tuple[RemoteFile, Path]]:
    """``(remote file, target path)`` for every file of ``records`` under ``folder/<product>/``."""
    if isinstance(records, Ancillaries):
        records = records.all()
    out, seen = [], set()
    for record in records:
        sub = Path(folder) / FOLDERS.get(record.product, record.product.lower() or "other")
        for remote in record.files:
            target = sub / remote.name
            if target not in seen:
                seen.add(target)
                out.append((remote, target))
    return out


def download(records: Union[Sequence[GranuleRecord], Ancillaries], folder: Union[str, Path],
             session: Optional[requests.Session] = None, workers: int = 4,
             progress: Optional[Progress] = None, cancelled: Optional[Cancelled] = None) -> DownloadResult:
    """Download every file of ``records`` into ``folder/<product>/`` (``aster``, ``mcd19a2``, …).

    ``session``: an authenticated requests session (default: earthaccess's, after
    :func:`~gmi_engine.acquire.auth.login`). Files already complete are skipped; ``workers`` files
    at a time. On cancel the result says so and only ``.part`` files remain of unfinished files.
    """
    if session is None:
        from gmi_engine.acquire.auth import login

        session = login().get_session()
    is_cancelled = cancelled or (lambda: False)
    jobs = plan(records, folder)
    result = DownloadResult()
    todo = []
    for remote, target in jobs:
        if _complete(target, remote):
            result.skipped.append(target)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            todo.append((remote, target))
    total = sum(r.size or 0 for r, _ in todo)
    counter = _Counter(total, progress)
    counter.done = sum(t.with_name(t.name + ".part").stat().st_size for _, t in todo
                       if t.with_name(t.name + ".part").exists())

    def one(job: Tuple[RemoteFile, Path]) -> Optional[Path]:
        remote, target = job
        if is_cancelled():
            raise _Cancel()
        _fetch(session, remote, target, counter, is_cancelled)
        return target

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(one, job) for job in todo]
        first_error: Optional[BaseException] = None
        for future in futures:
            try:
                result.downloaded.append(future.result())
            except _Cancel:
                result.cancelled = True
            except Exception as exc:  # keep the others going; raise the first at the end
                first_error = first_error or exc
    if first_error is not None and not result.cancelled:
        raise first_error
    report(progress, 1.0, "cancelled" if result.cancelled else "downloaded {} file(s)".format(len(result.downloaded)))
    return result

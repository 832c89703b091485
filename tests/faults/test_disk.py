"""A full disk and a read-only filesystem under the SQLite store (a small tmpfs mounted by the test).

While SQLite cannot write, webhooks get 503 with Retry-After (never 500); nothing is
corrupted (``PRAGMA integrity_check``); when space or write access returns the daemon
recovers by itself and everything it answered 202 is processed.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from support import DaemonProcess, drained

from faults.common import Stream, check_all_processed, processed_alerts, record


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs of our own, unmounted afterwards; skipped where mounting is not allowed."""
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (run the suite as root, e.g. in CI's container)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (no CAP_SYS_ADMIN?): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem is full; returns it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    error: OSError | None = None
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as err:
        error = err
    finally:
        os.close(fd)
    assert error is not None
    assert error.errno == errno.ENOSPC, error
    return filler


def integrity(db: Path, *, read_only: bool = False) -> str:
    """SQLite's own verdict on the file (opened immutable when its filesystem is read-only)."""
    uri = f"file:{db}?mode=ro&immutable=1" if read_only else f"file:{db}"
    with sqlite3.connect(uri, uri=True) as conn:
        result: str = conn.execute("PRAGMA integrity_check").fetchone()[0]
        return result


def sqlite_on(directory: Path) -> dict[str, object]:
    """The daemon's store section on the small filesystem, fully synchronous."""
    return {"store": {"kind": "sqlite", "path": str(directory / "triaged.db"), "synchronous": "full"}}


async def test_disk_full_503_no_corruption_recovers(
    small_fs: Path, daemon_factory: Callable[..., DaemonProcess], http: aiohttp.ClientSession
) -> None:
    """The filesystem fills up mid-stream: 503s, then space returns and everything accepted is there."""
    d = daemon_factory(sqlite_on(small_fs))
    groups = 200
    stream = Stream(http, d, 10)
    tasks = stream.run(groups, pause=0.01)
    while stream.statuses[202] < 30:
        await asyncio.sleep(0.005)
    filler = await asyncio.to_thread(fill, small_fs)
    t_full = time.monotonic()
    while stream.statuses[503] < 5:
        assert time.monotonic() - t_full < 30, f"no 503 while the disk is full: {stream.statuses}"
        await asyncio.sleep(0.05)
    async with http.get(d.url + "/healthz") as resp:
        assert resp.status == 200  # alive, only unable to store
    filler.unlink()  # space returns
    stream.mark = t0 = time.monotonic()
    await asyncio.gather(*tasks)
    incidents, processed = await check_all_processed(http, d, stream, groups)
    assert stream.first_202_after is not None
    assert d.stop(signal.SIGTERM) == 0
    assert integrity(small_fs / "triaged.db") == "ok"
    assert "Traceback" not in d.logs()
    record(
        "disk full (16 MiB tmpfs filled up)",
        iterations=1,
        alerts_sent=stream.sent,
        alerts_accepted=stream.statuses[202] * stream.size,
        alerts_processed=processed,
        answered_503=stream.statuses[503],
        incidents_expected=groups,
        incidents_found=incidents,
        integrity_check="ok",
        recover_s=round(stream.first_202_after - t0, 2),
        recover_note="space freed -> first 202",
    )


async def test_read_only_filesystem_then_back_nothing_lost(
    small_fs: Path, daemon_factory: Callable[..., DaemonProcess], http: aiohttp.ClientSession
) -> None:
    """The filesystem goes read-only while the daemon is down, then read-write again.

    A live remount to read-only is refused by the kernel while SQLite holds its files
    open for writing (EBUSY), so the fault is injected between runs: the daemon cannot
    start its store on a read-only file; once writable again it starts with everything
    it had accepted, and the file is not corrupted.
    """
    d = daemon_factory(sqlite_on(small_fs))
    stream = Stream(http, d, 3)
    await asyncio.gather(*stream.run(60))
    await drained(http, d)
    assert d.stop(signal.SIGTERM) == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    with pytest.raises(AssertionError, match="daemon exited"):
        d.start(timeout=20)
    assert integrity(small_fs / "triaged.db", read_only=True) == "ok"
    subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    t0 = time.monotonic()
    d.start()
    recovered = time.monotonic() - t0
    incidents, processed = await processed_alerts(http, d)
    assert incidents == 60
    assert processed == stream.statuses[202] * 3
    await asyncio.gather(*Stream(http, d, 3).run(10))  # writable again
    assert d.stop(signal.SIGTERM) == 0
    assert integrity(small_fs / "triaged.db") == "ok"
    record(
        "read-only filesystem (between runs)",
        iterations=1,
        alerts_sent=stream.sent + 30,
        alerts_accepted=stream.statuses[202] * 3 + 30,
        alerts_processed=processed + 30,
        incidents_expected=60,
        incidents_found=incidents,
        integrity_check="ok",
        recover_s=round(recovered, 2),
        recover_note="remounted rw -> restart ready",
    )


def test_read_only_filesystem_at_start_is_a_clear_error(
    small_fs: Path, daemon_factory: Callable[..., DaemonProcess]
) -> None:
    """Starting on a read-only file: a clear one-line error and a non-zero exit, no traceback."""
    d = daemon_factory(sqlite_on(small_fs))
    assert d.stop(signal.SIGTERM) == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    log_start = len(d.logs())
    with pytest.raises(AssertionError, match="daemon exited"):
        d.start(timeout=20)
    output = d.logs()[log_start:]
    assert "Traceback" not in output, output
    assert "read-only" in output or "readonly" in output or "unable to open" in output, output

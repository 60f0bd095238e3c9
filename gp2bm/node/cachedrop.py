"""Dropping the host's page cache before each run, as MLPerf's reference scripts do."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from gp2bm.files.plaintext import printable

DROP_CACHES = Path("/proc/sys/vm/drop_caches")


@dataclass(frozen=True)
class CacheDrop:
    ok: bool
    method: str
    seconds: float
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def drop_page_cache(command: list[str] | None = None, target: Path = DROP_CACHES) -> CacheDrop:
    """``sync`` then write 3 to drop_caches, or run the site's own command (e.g. via sudo).

    Never raises: the caller decides whether a failed drop stops the campaign.
    """
    t0 = time.monotonic()
    if command:
        try:
            proc = subprocess.run(command, capture_output=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return CacheDrop(False, "command", time.monotonic() - t0, str(exc))
        if proc.returncode == 0:
            return CacheDrop(True, "command", time.monotonic() - t0)
        tail = proc.stderr.decode(errors="replace").strip().splitlines()
        # the command's last word reaches the terminal: its escapes are shown, not obeyed
        err = f"exit code {proc.returncode}" + (f": {printable(tail[-1], 200)}" if tail else "")
        return CacheDrop(False, "command", time.monotonic() - t0, err)
    try:
        os.sync()
        with open(target, "w") as fh:
            fh.write("3\n")
    except OSError as exc:
        return CacheDrop(False, str(target), time.monotonic() - t0, f"{target}: {exc.strerror}")
    return CacheDrop(True, str(target), time.monotonic() - t0)

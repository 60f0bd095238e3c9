"""A short command (a version, a probe, a Slurm query, a build) run to its end: its output
captured, stdin closed, a time limit. What its failure means is the caller's to say."""

from __future__ import annotations

import subprocess


def run_short(
    argv: list[str], timeout: float, env: dict[str, str] | None = None, text: bool = True
) -> subprocess.CompletedProcess:
    """``argv``'s exit code and output; ``OSError`` (``FileNotFoundError`` when it is not
    there) or ``subprocess.TimeoutExpired`` raised for the caller to put in one line."""
    return subprocess.run(
        argv,
        capture_output=True,
        text=text,
        env=env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )

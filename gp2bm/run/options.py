"""What the user chose for every run of an invocation (run-all, run, run-task)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RunOptions:
    cache_drop: bool = True
    cache_drop_command: list[str] | None = None
    allow_cache_drop_failure: bool = False
    allow_unpinned: bool = False
    timeout_seconds: float | None = None  # None: the manifest's
    stop_grace_seconds: float = 10.0
    # a run across nodes on nodes of different hardware goes on (recorded) instead of stopping
    allow_mixed_nodes: bool = False

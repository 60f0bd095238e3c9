"""What the user chose for every run of an invocation (run-all, run, run-task)."""

from __future__ import annotations

import shlex
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
    # how the pre-flight went before these runs (campaign.record.PREFLIGHT_*), recorded in
    # each run record: the trust ledger names runs started without it
    preflight: str = "skipped"

    def node_arguments(self) -> list[str]:
        """The options of ``gp2bm node-step`` that give each node this cache drop and this
        leave for unpinned images."""
        args = [] if self.cache_drop else ["--no-cache-drop"]
        if self.cache_drop_command:
            args += ["--cache-drop-command", shlex.join(self.cache_drop_command)]
        if self.allow_cache_drop_failure:
            args.append("--allow-cache-drop-failure")
        if self.allow_unpinned:
            args.append("--allow-unpinned")
        return args

    def task_arguments(self) -> list[str]:
        """The options of ``gp2bm run-task`` that give every array task these options."""
        args = self.node_arguments()
        if self.timeout_seconds is not None:
            args += ["--timeout", repr(float(self.timeout_seconds))]
        if self.allow_mixed_nodes:
            args.append("--allow-mixed-nodes")
        return args

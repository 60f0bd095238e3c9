"""Small suites of the smoke benchmark for campaign tests, written into a temporary folder."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from gp2bm.spec.suite import MIN_RUNS

REPO = Path(__file__).resolve().parent.parent
# The tests never drop the shared host's page cache: a command that succeeds stands in.
NO_DROP = ["--cache-drop-command", "true"]
SYSTEM = "node1"
TRAIN = REPO / "containers" / "smoke" / "train.py"


def write_suite(
    folder: Path,
    runs: dict[str, int] | None = None,
    *,
    image: str = "gp2bm/smoke:latest",
    extra_args: list[str] | None = None,
    local_env: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    timeout_minutes: float | None = 5,
    rcp: bool = False,
    script: Path = TRAIN,
) -> Path:
    """A smoke-shaped suite (default 5 resnet + 10 bert) whose manifests run train.py (with
    the local runtime: ``script``, e.g. tests/scripted_train.py)."""
    runs = runs or {"resnet": 5, "bert": 10}
    folder.mkdir(parents=True, exist_ok=True)
    benchmarks = {}
    for bench, n in runs.items():
        manifest = {
            "benchmark": bench,
            "image": image,
            "implementation": {"name": "numpy", "source": "/workspace/smoke"},
            "command": ["--benchmark", bench, *(extra_args or [])],
            "environment": dict(env or {}),
            "seed": {"env": "SEED"},
            "gpus": "none",
            "network": "none",
            "local": {
                "command": ["{python}", str(script), "--benchmark", bench, *(extra_args or [])],
                "environment": dict(local_env or {}),
            },
        }
        if timeout_minutes:
            manifest["timeout_minutes"] = timeout_minutes
        (folder / f"{bench}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        benchmarks[bench] = {
            "manifest": f"{bench}.yaml",
            "runs": n,
            "target": 0.759 if bench == "resnet" else 0.720,
            "weight": 7.19 if bench == "resnet" else 9.05,
        }
    suite = {
        "name": "smoketest",
        "ruleset": "3.1.0",
        "nodes": 1,
        "checks": {"compliance": "strict", "rcp": rcp},
        "benchmarks": benchmarks,
    }
    if min(runs.values()) < MIN_RUNS:
        suite["trial"] = True  # fewer runs than a result needs: a check of the setup
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.glob("result_*.txt"))
    }


def bench_dir(campaign: Path, bench: str) -> Path:
    """A benchmark's result folder in a campaign started with --system node1 (org gp2bm)."""
    return campaign / "gp2bm" / "results" / SYSTEM / bench


def run_all_local(cli, suite, campaign, *extra, cache_drop=NO_DROP):
    """gp2bm run-all with the local runtime on system node1."""
    return cli("run-all", "--suite", suite, "--campaign", campaign, "--runtime", "local",
               "--system", SYSTEM, *cache_drop, *extra)


def spawn_run_all(suite: Path, campaign: Path, *extra: str) -> subprocess.Popen:
    """``gp2bm run-all`` (local runtime) in a process of its own and its own session, its
    output piped: for the tests that signal or kill it while it runs."""
    argv = [sys.executable, "-m", "gp2bm", "run-all", "--suite", str(suite), "--campaign",
            str(campaign), "--runtime", "local", "--system", SYSTEM, *NO_DROP, *extra]
    return subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


class WhenRun1Writes:
    """A thread that calls ``act`` once run 0 of a benchmark is finished and run 1 is
    writing its log (its partial log holds ``run_start``): the moment a fault test breaks
    the campaign's disk. ``done`` is set when ``act`` returned True."""

    def __init__(self, results: Path, partial: Path, act) -> None:
        self.results, self.partial, self.act = results, partial, act
        self.done, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            if (self.results / "result_0.txt").exists() and self.partial.exists():
                if b'"run_start"' in self.partial.read_bytes():
                    if self.act():
                        self.done.set()
                    return
            time.sleep(0.02)

    def __enter__(self) -> WhenRun1Writes:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)

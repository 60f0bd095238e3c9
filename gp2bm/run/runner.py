"""Executing a campaign's missing runs, one container per run.

Per run: drop the page cache, draw a fresh seed, write gp2bm's own MLLOG lines (the
cache_clear and a traceability line naming the image digest and gp2bm's version), stream
the run's output into the log, enforce the timeout, and write the run record. The log
becomes result_N.txt by an atomic rename only when the run has ended, so a kill at any
moment leaves either a finished run or a partial one that the next start keeps as an
attempt and redoes.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm import __version__
from gp2bm.campaign.folder import Campaign, PlannedRun
from gp2bm.errors import CampaignStopped, DiskFull, EngineLost, InputError, Interrupted, RunBusy
from gp2bm.files.jsonfile import write_json_atomic
from gp2bm.files.redact import redact_argv
from gp2bm.files.timestamps import now_iso
from gp2bm.node.cachedrop import CacheDrop, drop_page_cache
from gp2bm.node.fingerprint import node_identity
from gp2bm.results.runlog import GP2BM_RUN_END, parse_run_log
from gp2bm.run.telemetry import start_telemetry
from gp2bm.runtimes.base import LABEL_CAMPAIGN, LABEL_RUN, ImageInfo, Runtime, run_spec
from gp2bm.spec.manifest import BenchmarkManifest

# gp2bm's own MLLOG keys. Unknown keys are allowed by MLCommons' checkers.
KEY_TRACE = "gp2bm_run"
KEY_END = GP2BM_RUN_END
# Seeds stay within a signed 32-bit int, which every framework accepts.
SEED_MAX = 2**31 - 1


# ENOSPC, or EDQUOT where a quota is what ran out.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


def _disk_full(path: Path | str) -> DiskFull:
    return DiskFull(
        f"{path}: no space left on device; the campaign stopped (finished runs are kept, a "
        "partial log is kept as an attempt): free space and run run-all again"
    )


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn a full disk while writing ``path`` into a clean stop naming the file."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _NO_SPACE:
            raise
        raise _disk_full(exc.filename or path) from None


def _save_record(path: Path, record: dict) -> None:
    try:
        with _writing(path):
            write_json_atomic(path, record)
    except DiskFull:
        # write_json_atomic's temporary file, left by the failed write
        path.with_name(f".{path.name}.{os.getpid()}.tmp").unlink(missing_ok=True)
        raise


@dataclass
class RunOptions:
    cache_drop: bool = True
    cache_drop_command: list[str] | None = None
    allow_cache_drop_failure: bool = False
    allow_unpinned: bool = False
    timeout_seconds: float | None = None
    stop_grace_seconds: float = 10.0
    extra_env: dict[str, str] = field(default_factory=dict)


def mllog_line(key: str, value, metadata: dict | None = None, time_ms: int | None = None) -> bytes:
    record = {
        "namespace": "",
        "time_ms": int(time.time() * 1000) if time_ms is None else time_ms,
        "event_type": "POINT_IN_TIME",
        "key": key,
        "value": value,
        "metadata": {"file": "gp2bm", "lineno": 0, **(metadata or {})},
    }
    return (":::MLLOG " + json.dumps(record, sort_keys=False) + "\n").encode()


def fresh_seed(used: set[int]) -> int:
    while True:
        seed = secrets.randbelow(SEED_MAX) + 1
        if seed not in used:
            return seed


class LiveStatus:
    """What the progress display shows, updated from the output pump thread."""

    def __init__(self):
        self.accuracy: float | None = None
        self.epoch: float | None = None
        self.lines = 0

    def on_line(self, line: bytes) -> None:
        self.lines += 1
        pos = line.find(b":::MLLOG")
        if pos < 0 or b"eval_accuracy" not in line:
            return
        try:
            rec = json.loads(line[pos + 8 :])
            if rec.get("key") == "eval_accuracy":
                self.accuracy = float(rec["value"])
                self.epoch = (rec.get("metadata") or {}).get("epoch_num")
        except (ValueError, KeyError, TypeError):
            pass


class _SignalGuard:
    """Turn SIGTERM into KeyboardInterrupt while a campaign runs, like Ctrl-C."""

    def __enter__(self):
        self._old = signal.getsignal(signal.SIGTERM)

        def handler(signum, frame):
            raise KeyboardInterrupt

        try:
            signal.signal(signal.SIGTERM, handler)
        except ValueError:  # not the main thread
            self._old = None
        return self

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)
        return False


@dataclass
class RunOutcome:
    planned: PlannedRun
    record: dict


def execute_run(
    campaign: Campaign,
    planned: PlannedRun,
    manifest: BenchmarkManifest,
    runtime: Runtime,
    image: ImageInfo,
    options: RunOptions,
    status: LiveStatus | None = None,
    tick: Callable[[], None] | None = None,
) -> RunOutcome:
    bench, n = planned.benchmark, planned.index
    partial = campaign.partial_path(bench, n)
    record_path = campaign.record_path(bench, n)
    partial.parent.mkdir(parents=True, exist_ok=True)
    campaign.bench_dir(bench).mkdir(parents=True, exist_ok=True)

    # 1. the page cache
    if options.cache_drop:
        drop = drop_page_cache(options.cache_drop_command)
    else:
        drop = CacheDrop(False, "disabled (--no-cache-drop)", 0.0, "not attempted")
    if options.cache_drop and not drop.ok and not options.allow_cache_drop_failure:
        failed = {
            "benchmark": bench,
            "run": n,
            "status": "not started",
            "reason": f"cache drop failed: {drop.error}",
            "cache_drop": drop.as_dict(),
            "time": now_iso(),
        }
        _save_record(campaign.records_dir(bench) / f"cache_drop_failure_{n}.json", failed)
        raise CampaignStopped(
            f"cache drop before {bench} run {n} failed: {drop.error} "
            "(run as root, pass --cache-drop-command, or --allow-cache-drop-failure)"
        )

    # 2. the seed and the record of the run that is about to start
    seed = fresh_seed(campaign.used_seeds(bench))
    name = f"gp2bm-{campaign.ident}-{bench}-{n}-{secrets.token_hex(3)}"
    labels = {LABEL_CAMPAIGN: campaign.ident, LABEL_RUN: f"{bench}/{n}"}
    env = {
        "MLPERF_SUBMISSION_ORG": campaign.org,
        "MLPERF_SUBMISSION_PLATFORM": campaign.system,
        **options.extra_env,
    }
    spec = run_spec(manifest, name, seed, env, labels)
    timeout = options.timeout_seconds
    if timeout is None and manifest.timeout_minutes:
        timeout = manifest.timeout_minutes * 60
    record = {
        "benchmark": bench,
        "run": n,
        "log": str(campaign.result_path(bench, n).relative_to(campaign.root)),
        "seed": seed,
        "status": "running",
        "runtime": runtime.name,
        "container": name,
        "command": redact_argv(runtime.render(spec)),
        "image": manifest.image,
        "image_pinned": manifest.pinned,
        "image_id": image.id,
        "image_repo_digests": image.repo_digests,
        "allow_unpinned": options.allow_unpinned,
        "manifest": str(manifest.path),
        "host": socket.gethostname(),
        **node_identity(),  # node name (the Slurm node) and its hardware fingerprint
        "gp2bm_version": __version__,
        "gp2bm_pid": os.getpid(),
        "cache_drop": drop.as_dict(),
        "timeout_seconds": timeout,
        "privileged": spec.privileged,
        "network": spec.network,
        "start": now_iso(),
    }
    _save_record(record_path, record)

    # 3. gp2bm's header lines, then the run's own output
    with _writing(partial), open(partial, "wb") as sink:
        sink.write(mllog_line("cache_clear", drop.ok, {"method": drop.method}))
        sink.write(
            mllog_line(
                KEY_TRACE,
                {
                    "gp2bm_version": __version__,
                    "image": manifest.image,
                    "image_id": image.id,
                    "runtime": runtime.name,
                    "seed": seed,
                    "run": n,
                    "host": record["host"],
                    "allow_unpinned": options.allow_unpinned,
                },
            )
        )
        sink.flush()
        t0 = time.monotonic()
        execution = runtime.start(spec, sink, status.on_line if status else None)
        telemetry = start_telemetry(campaign.telemetry_path(bench, n))
        reason = None
        try:
            while True:
                code = execution.wait(0.2)
                if code is not None:
                    break
                if tick:
                    tick()
                lost_output = execution.output_error
                if lost_output is not None:
                    # The output cannot be written (e.g. the disk is full): stop the run
                    # rather than let it block on a pipe nobody reads.
                    execution.stop(options.stop_grace_seconds)
                    code = execution.wait(5)
                    reason = f"output lost: {lost_output}"
                    break
                if timeout is not None and time.monotonic() - t0 > timeout:
                    execution.stop(options.stop_grace_seconds)
                    code = execution.wait(5)
                    reason = f"timeout after {timeout:g} s"
                    break
        except KeyboardInterrupt:
            execution.stop(options.stop_grace_seconds)
            execution.close()
            record.update(
                status="interrupted",
                reason="stopped by Ctrl-C or SIGTERM",
                stop=now_iso(),
                seconds=time.monotonic() - t0,
                telemetry=telemetry.stop(),
            )
            _save_record(record_path, record)
            raise Interrupted(
                f"interrupted during {bench} run {n}; its log is kept as an attempt and the "
                "run is redone by the next run-all"
            ) from None
        finally:
            pump_error = execution.output_error
            record["telemetry"] = telemetry.stop()
        execution.close()
        elapsed = time.monotonic() - t0
        if isinstance(pump_error, OSError) and pump_error.errno in _NO_SPACE:
            raise _disk_full(partial)
        lost = execution.lost
        if lost:
            # Not the workload's failure: the run is kept as an attempt and redone.
            record.update(
                status="interrupted",
                reason=f"container engine lost: {lost}",
                stop=now_iso(),
                seconds=elapsed,
            )
            _save_record(record_path, record)
            raise EngineLost(
                f"{runtime.name}: the container engine stopped answering during {bench} run "
                f"{n} ({lost}); its log is kept as an attempt and the run is redone by the "
                "next run-all"
            )

        # 4. the verdict, appended as gp2bm's closing line
        if reason is None and code != 0:
            reason = f"exit code {code}"
        if pump_error is not None and reason is None:
            reason = f"output lost: {pump_error}"
        sink.flush()
        log = parse_run_log(partial)
        if reason is None and log.status != "success":
            reason = "the log has no successful run_stop"
        run_status = "success" if reason is None else "aborted"
        sink.write(
            mllog_line(
                KEY_END,
                {"status": run_status, "exit_code": code, "reason": reason},
            )
        )
        sink.flush()
        os.fsync(sink.fileno())

    os.replace(partial, campaign.result_path(bench, n))
    record.update(
        status=run_status,
        reason=reason,
        exit_code=code,
        stop=now_iso(),
        seconds=elapsed,
        log_status=log.status,
        minutes=log.minutes,
        best_accuracy=log.best_accuracy,
    )
    _save_record(record_path, record)
    return RunOutcome(planned, record)


SEED_PLACEHOLDER = "<fresh seed>"


def plan_commands(
    campaign: Campaign,
    manifests: dict[str, BenchmarkManifest],
    runtime: Runtime,
    benchmarks: list[str] | None = None,
) -> list[dict]:
    """What --dry-run shows: each missing run and the command line that would start it."""
    plan = campaign.plan(benchmarks)
    if not runtime.uses_images:
        for b in dict.fromkeys(p.benchmark for p in plan):
            runtime.prepare(manifests[b])
    env = {"MLPERF_SUBMISSION_ORG": campaign.org, "MLPERF_SUBMISSION_PLATFORM": campaign.system}
    rows = []
    for p in plan:
        name = f"gp2bm-{campaign.ident}-{p.benchmark}-{p.index}"
        spec = run_spec(manifests[p.benchmark], name, SEED_PLACEHOLDER, env, {})
        rows.append(
            {
                "benchmark": p.benchmark,
                "run": p.index,
                "result": str(campaign.result_path(p.benchmark, p.index)),
                "command": redact_argv(runtime.render(spec)),
            }
        )
    return rows


def require_pinned(
    manifests: dict[str, BenchmarkManifest], runtime: Runtime, allow_unpinned: bool
) -> None:
    if not runtime.uses_images or allow_unpinned:
        return
    for bench, manifest in manifests.items():
        if not manifest.pinned:
            raise InputError(
                f"{manifest.path}: image '{manifest.image}' is not pinned by digest; run "
                f"`gp2bm pin {bench} {manifest.image}` (or pass --allow-unpinned, which is "
                "recorded in every run record)"
            )


def run_campaign(
    campaign: Campaign,
    manifests: dict[str, BenchmarkManifest],
    runtime: Runtime,
    options: RunOptions,
    benchmarks: list[str] | None = None,
    progress=None,
) -> list[RunOutcome]:
    """Run every missing run of the campaign (or of the named benchmarks)."""
    names = benchmarks or list(campaign.suite.benchmarks)
    require_pinned({b: manifests[b] for b in names}, runtime, options.allow_unpinned)
    try:
        return _run_campaign(campaign, manifests, runtime, options, names, progress)
    except OSError as exc:
        # Any other write of the campaign (its lock, suite copy, attempts) on a full disk.
        if exc.errno not in _NO_SPACE:
            raise
        raise _disk_full(exc.filename or campaign.root) from None


def _run_campaign(campaign, manifests, runtime, options, names, progress) -> list[RunOutcome]:
    outcomes = []
    with campaign.lock(), _SignalGuard():
        campaign.save()

        def busy(run: str) -> bool:
            bench, _, n = run.partition("/")
            return n.isdigit() and campaign.run_holder(bench, int(n)) is not None

        left = runtime.cleanup({LABEL_CAMPAIGN: campaign.ident}, busy=busy)
        if progress and left:
            progress.note(f"removed {len(left)} container(s) left by an earlier gp2bm: {left}")
        kept = campaign.archive_partials()
        if progress and kept:
            progress.note(
                f"kept {len(kept)} interrupted log(s) as attempts: "
                + ", ".join(str(p.relative_to(campaign.root)) for p in kept)
            )
        plan = campaign.plan(names)
        runtime.use_campaign(campaign.root)
        images = {
            b: runtime.prepare(manifests[b]) for b in dict.fromkeys(p.benchmark for p in plan)
        }
        for planned in plan:
            status = LiveStatus()
            # Each run under its own lock: Slurm array tasks may share this campaign.
            try:
                with campaign.claim_run(planned.benchmark, planned.index) as todo:
                    if not todo:
                        continue
                    if progress:
                        progress.start_run(planned, status)
                    outcome = execute_run(
                        campaign,
                        planned,
                        manifests[planned.benchmark],
                        runtime,
                        images[planned.benchmark],
                        options,
                        status,
                        tick=progress.tick if progress else None,
                    )
            except RunBusy as exc:
                if progress:
                    progress.note(f"skipped: {exc}")
                continue
            outcomes.append(outcome)
            if progress:
                progress.end_run(planned, outcome.record)
    return outcomes

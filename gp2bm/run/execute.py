"""One run of a campaign: prepare -> supervise -> finish.

prepare: drop the page cache, draw a fresh seed, write the run record (status running).
supervise: write gp2bm's own MLLOG lines (the cache_clear and a traceability line naming
the image digest and gp2bm's version), start the container, stream its output into the
log, time it on gp2bm's own monotonic clock, sample telemetry, enforce the timeout;
Ctrl-C, SIGTERM or a lost engine stop it.
finish: append gp2bm's verdict line, rename the log to result_N.txt, rewrite the record.

The log becomes result_N.txt by an atomic rename only when the run has ended, so a kill at
any moment leaves either a finished run or a partial one that the next start keeps as an
attempt and redoes.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from gp2bm import __version__
from gp2bm.campaign.folder import Campaign, PlannedRun
from gp2bm.campaign.record import (
    ABORTED,
    INTERRUPTED,
    NOT_STARTED,
    RUNNING,
    SUCCESS,
    RunRecord,
)
from gp2bm.errors import CampaignStopped, EngineLost, Interrupted
from gp2bm.files.redact import redact_argv
from gp2bm.files.timestamps import now_iso
from gp2bm.node.cachedrop import CacheDrop, drop_page_cache
from gp2bm.node.fingerprint import node_identity
from gp2bm.results.runlog import RunLog, parse_run_log
from gp2bm.run.mllog import KEY_END, KEY_TRACE, mllog_line
from gp2bm.run.options import RunOptions
from gp2bm.run.plan import container_name, submission_env
from gp2bm.run.progress import LiveStatus
from gp2bm.run.seeds import fresh_seed
from gp2bm.run.telemetry import TelemetrySampler, start_telemetry
from gp2bm.run.timer import RunTimer
from gp2bm.run.writing import disk_full, is_disk_full, save_record, writing
from gp2bm.runtimes.base import (
    LABEL_CAMPAIGN,
    LABEL_RUN,
    Execution,
    ImageInfo,
    RunSpec,
    Runtime,
    run_spec,
)
from gp2bm.spec.manifest import BenchmarkManifest

POLL_S = 0.2  # how often a running run is looked at (exit, output, timeout, progress)
REAP_S = 5.0  # how long a stopped container is waited for, for its exit code


@dataclass
class RunOutcome:
    planned: PlannedRun
    record: RunRecord


@dataclass
class _Prepared:
    """A run about to start: what it runs, its record (saved as running) and its files."""

    bench: str
    n: int
    spec: RunSpec
    record: RunRecord
    record_path: Path
    partial: Path  # its log while it runs
    telemetry_path: Path
    timeout: float | None


@dataclass
class _Ended:
    code: int | None
    reason: str | None  # why gp2bm stopped it (timeout, output lost); None: it ended itself
    output_error: BaseException | None
    seconds: float
    observed_seconds: float | None  # from its run_start line to its run_stop line


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
    campaign.records_dir(planned.benchmark).mkdir(parents=True, exist_ok=True)
    campaign.bench_dir(planned.benchmark).mkdir(parents=True, exist_ok=True)
    drop = _drop_cache(campaign, planned.benchmark, planned.index, options)
    run = _prepare(campaign, planned, manifest, runtime, image, options, drop)
    with writing(run.partial), open(run.partial, "wb") as sink:
        _write_header(sink, run.record, drop)
        ended = _supervise(run, runtime, sink, options, status, tick)
        _close_log(sink, run, ended)
    os.replace(run.partial, campaign.result_path(run.bench, run.n))
    run.record.stop = now_iso()
    save_record(run.record_path, run.record)
    return RunOutcome(planned, run.record)


# ---------------------------------------------------------------------------- prepare


def _drop_cache(campaign: Campaign, bench: str, n: int, options: RunOptions) -> CacheDrop:
    """Drop the page cache; a failure stops the campaign (recorded) unless allowed."""
    if not options.cache_drop:
        return CacheDrop(False, "disabled (--no-cache-drop)", 0.0, "not attempted")
    drop = drop_page_cache(options.cache_drop_command)
    if drop.ok or options.allow_cache_drop_failure:
        return drop
    failed = RunRecord(
        benchmark=bench,
        run=n,
        status=NOT_STARTED,
        reason=f"cache drop failed: {drop.error}",
        cache_drop=drop.as_dict(),
        start=now_iso(),
    )
    save_record(campaign.records_dir(bench) / f"cache_drop_failure_{n}.json", failed)
    raise CampaignStopped(
        f"cache drop before {bench} run {n} failed: {drop.error} "
        "(run as root, pass --cache-drop-command, or --allow-cache-drop-failure)"
    )


def _prepare(
    campaign: Campaign,
    planned: PlannedRun,
    manifest: BenchmarkManifest,
    runtime: Runtime,
    image: ImageInfo,
    options: RunOptions,
    drop: CacheDrop,
) -> _Prepared:
    """Draw the seed, render the run and save its record (status running)."""
    bench, n = planned.benchmark, planned.index
    seed = fresh_seed(campaign.used_seeds(bench))
    name = f"{container_name(campaign, bench, n)}-{secrets.token_hex(3)}"
    labels = {LABEL_CAMPAIGN: campaign.ident, LABEL_RUN: f"{bench}/{n}"}
    env = {**submission_env(campaign), **options.extra_env}
    spec = run_spec(manifest, name, seed, env, labels)
    timeout = options.timeout_seconds
    if timeout is None and manifest.timeout_minutes:
        timeout = manifest.timeout_minutes * 60
    record = RunRecord(
        benchmark=bench,
        run=n,
        log=str(campaign.result_path(bench, n).relative_to(campaign.root)),
        seed=seed,
        status=RUNNING,
        runtime=runtime.name,
        container=name,
        command=redact_argv(runtime.render(spec)),
        image=manifest.image,
        image_pinned=manifest.pinned,
        image_id=image.id,
        image_repo_digests=list(image.repo_digests),
        allow_unpinned=options.allow_unpinned,
        manifest=str(manifest.path),
        privileged=spec.privileged,
        network=spec.network,
        timeout_seconds=timeout,
        host=socket.gethostname(),
        gp2bm_version=__version__,
        gp2bm_pid=os.getpid(),
        cache_drop=drop.as_dict(),
        start=now_iso(),
    )
    record.update(**node_identity())  # the node (the Slurm node) and its hardware fingerprint
    run = _Prepared(
        bench=bench,
        n=n,
        spec=spec,
        record=record,
        record_path=campaign.record_path(bench, n),
        partial=campaign.partial_path(bench, n),
        telemetry_path=campaign.telemetry_path(bench, n),
        timeout=timeout,
    )
    save_record(run.record_path, record)
    return run


def _write_header(sink: BinaryIO, record: RunRecord, drop: CacheDrop) -> None:
    """gp2bm's own first lines: the cache drop, and what runs where (traceability)."""
    sink.write(mllog_line("cache_clear", drop.ok, {"method": drop.method}))
    trace = {
        "gp2bm_version": record.gp2bm_version,
        "image": record.image,
        "image_id": record.image_id,
        "runtime": record.runtime,
        "seed": record.seed,
        "run": record.run,
        "host": record.host,
        "allow_unpinned": record.allow_unpinned,
    }
    sink.write(mllog_line(KEY_TRACE, trace))
    sink.flush()


# ---------------------------------------------------------------------------- supervise


def _supervise(
    run: _Prepared,
    runtime: Runtime,
    sink: BinaryIO,
    options: RunOptions,
    status: LiveStatus | None,
    tick: Callable[[], None] | None,
) -> _Ended:
    """Start the run and follow it to its end; raise when it is not the workload's end."""
    timer = RunTimer(status.on_line if status else None)
    t0 = time.monotonic()
    execution = runtime.start(run.spec, sink, timer.on_line)
    telemetry = start_telemetry(run.telemetry_path)
    try:
        code, reason = _follow(execution, run.timeout, options.stop_grace_seconds, tick, t0)
    except KeyboardInterrupt:
        raise _interrupted(run, execution, telemetry, options, t0) from None
    finally:
        output_error = execution.output_error
        run.record.telemetry = telemetry.stop()
    execution.close()
    ended = _Ended(code, reason, output_error, time.monotonic() - t0, timer.seconds)
    _stop_unless_the_workload_ended(run, runtime.name, execution, ended)
    return ended


def _follow(
    execution: Execution,
    timeout: float | None,
    grace: float,
    tick: Callable[[], None] | None,
    t0: float,
) -> tuple[int | None, str | None]:
    """Wait for the run to end: its exit code, and why gp2bm stopped it (when it did)."""
    while True:
        code = execution.wait(POLL_S)
        if code is not None:
            return code, None
        if tick:
            tick()
        lost_output = execution.output_error
        if lost_output is not None:
            # The output cannot be written (e.g. the disk is full): stop the run rather
            # than let it block on a pipe nobody reads.
            execution.stop(grace)
            return execution.wait(REAP_S), f"output lost: {lost_output}"
        if timeout is not None and time.monotonic() - t0 > timeout:
            execution.stop(grace)
            return execution.wait(REAP_S), f"timeout after {timeout:g} s"


def _interrupted(
    run: _Prepared,
    execution: Execution,
    telemetry: TelemetrySampler,
    options: RunOptions,
    t0: float,
) -> Interrupted:
    """Ctrl-C or SIGTERM: stop the run, record it as interrupted (its log is an attempt)."""
    execution.stop(options.stop_grace_seconds)
    execution.close()
    run.record.update(
        status=INTERRUPTED,
        reason="stopped by Ctrl-C or SIGTERM",
        stop=now_iso(),
        seconds=time.monotonic() - t0,
        telemetry=telemetry.stop(),
    )
    save_record(run.record_path, run.record)
    return Interrupted(
        f"interrupted during {run.bench} run {run.n}; its log is kept as an attempt and the "
        "run is redone by the next run-all"
    )


def _stop_unless_the_workload_ended(
    run: _Prepared, runtime_name: str, execution: Execution, ended: _Ended
) -> None:
    """A full disk or a lost engine is not the workload's failure: the campaign stops and
    the run is kept as an attempt, redone by the next run-all."""
    if is_disk_full(ended.output_error):
        raise disk_full(run.partial)
    lost = execution.lost
    if not lost:
        return
    run.record.update(
        status=INTERRUPTED,
        reason=f"container engine lost: {lost}",
        stop=now_iso(),
        seconds=ended.seconds,
    )
    save_record(run.record_path, run.record)
    raise EngineLost(
        f"{runtime_name}: the container engine stopped answering during {run.bench} run "
        f"{run.n} ({lost}); its log is kept as an attempt and the run is redone by the "
        "next run-all"
    )


# ---------------------------------------------------------------------------- finish


def _close_log(sink: BinaryIO, run: _Prepared, ended: _Ended) -> None:
    """Judge the run, append gp2bm's verdict line, fsync, and put the verdict in the record."""
    reason = ended.reason
    if reason is None and ended.code != 0:
        reason = f"exit code {ended.code}"
    if reason is None and ended.output_error is not None:
        reason = f"output lost: {ended.output_error}"
    sink.flush()
    log: RunLog = parse_run_log(run.partial)
    if reason is None and log.status != "success":
        reason = "the log has no successful run_stop"
    verdict = SUCCESS if reason is None else ABORTED
    sink.write(mllog_line(KEY_END, {"status": verdict, "exit_code": ended.code, "reason": reason}))
    sink.flush()
    os.fsync(sink.fileno())
    run.record.update(
        status=verdict,
        reason=reason,
        exit_code=ended.code,
        seconds=ended.seconds,
        observed_seconds=ended.observed_seconds,
        log_status=log.status,
        minutes=log.minutes,
        best_accuracy=log.best_accuracy,
    )

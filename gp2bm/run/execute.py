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

A run across the nodes of a Slurm allocation (launcher srun; ``gp2bm.run.spanning``) first
steps onto every node (image ready, fingerprint, checks, cache drop: one ``cache_clear``
line per node), samples every node's telemetry, and ends aborted, kept as an attempt, when a
node was lost during it.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from gp2bm import __version__
from gp2bm.campaign.folder import Campaign, PlannedRun
from gp2bm.campaign.layout import CampaignLayout
from gp2bm.campaign.record import (
    ABORTED,
    INTERRUPTED,
    NOT_STARTED,
    RUNNING,
    SUCCESS,
    RunRecord,
)
from gp2bm.errors import CampaignStopped, EngineLost, Interrupted
from gp2bm.files.redact import find_secrets, secret_values
from gp2bm.files.timestamps import now_iso
from gp2bm.node.cachedrop import CacheDrop
from gp2bm.node.fingerprint import node_identity
from gp2bm.results.runlog import RunLog, parse_run_log
from gp2bm.run.benchsetup import BenchmarkSetup, benchmark_setup
from gp2bm.run.mllog import KEY_END, KEY_TRACE, mllog_line
from gp2bm.run.options import RunOptions
from gp2bm.run.placement import RunPlacement, Sampler
from gp2bm.run.plan import RunPlan, container_name, plan_run
from gp2bm.run.power import write_power_logs
from gp2bm.run.progress import LiveStatus
from gp2bm.run.seeds import fresh_seed
from gp2bm.run.spanning import placement_for
from gp2bm.run.submission import writer_problem
from gp2bm.run.timer import RunTimer
from gp2bm.run.writing import disk_full, is_disk_full, save_record, writing
from gp2bm.runtimes.base import Execution, ImageInfo, Runtime
from gp2bm.spec.manifest import BenchmarkManifest

POLL_S = 0.2  # how often a running run is looked at (exit, output, timeout, progress)
REAP_S = 5.0  # how long a stopped container is waited for, for its exit code


@dataclass
class RunOutcome:
    planned: PlannedRun
    record: RunRecord


@dataclass
class _Prepared:
    """A run about to start: its plan, where it runs, its resolved setup and its record
    (saved as running)."""

    plan: RunPlan
    setup: BenchmarkSetup
    placement: RunPlacement
    record: RunRecord
    layout: CampaignLayout
    campaign: dict  # who runs it, which suite: the campaign.json the run line names

    @property
    def bench(self) -> str:
        return self.plan.benchmark

    @property
    def n(self) -> int:
        return self.plan.index


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
    setup: BenchmarkSetup | None = None,
) -> RunOutcome:
    """One run. ``setup`` is the benchmark's resolved launch (the campaign loop resolves it
    once per benchmark); without it, it is resolved here (a Slurm array task's one run)."""
    if setup is None:
        setup = benchmark_setup(campaign, manifest, runtime)
    layout = campaign.layout
    layout.records_dir(planned.benchmark).mkdir(parents=True, exist_ok=True)
    layout.benchmark_dir(planned.benchmark).mkdir(parents=True, exist_ok=True)
    where = placement_for(campaign, setup, runtime, options)
    drop = _drop_cache(campaign, planned, options, where)
    run = _prepare(campaign, planned, setup, runtime, image, options, drop, where)
    with writing(run.plan.partial), open(run.plan.partial, "wb") as sink:
        _write_header(sink, run, drop)
        ended = _supervise(run, runtime, sink, options, status, tick)
        _close_log(sink, run, ended)
    run.record.secrets_in_log = _secrets_shown(run) or None
    os.replace(run.plan.partial, run.plan.result)
    run.record.power = write_power_logs(run.layout, run.bench, run.n, run.record, _env(run))
    run.record.stop = now_iso()
    save_record(run.plan.record, run.record)
    return RunOutcome(planned, run.record)


def _env(run: _Prepared) -> dict[str, str]:
    """The environment the run was given (the local runtime's own variables included)."""
    env = dict(run.plan.spec.env)
    if run.setup.manifest.local is not None:
        env.update(run.setup.manifest.local.environment)
    return env


def _secrets_shown(run: _Prepared) -> list[str]:
    """Where the log shows a secret value the run was given (never the value). The log is
    evidence and stays as written; the record and the campaign's output say it."""
    env = _env(run)
    return [str(found) for found in find_secrets(run.plan.partial, secret_values(env))]


# ---------------------------------------------------------------------------- prepare


def _drop_cache(
    campaign: Campaign, planned: PlannedRun, options: RunOptions, where: RunPlacement
) -> CacheDrop:
    """Drop the page cache (on every node of the run); a failure stops the campaign
    (recorded) unless allowed."""
    if not options.cache_drop:
        return CacheDrop(False, "disabled (--no-cache-drop)", 0.0, "not attempted")
    drop = where.drop_cache(options)
    if drop.ok or options.allow_cache_drop_failure:
        return drop
    bench, n = planned.benchmark, planned.index
    failed = RunRecord(
        benchmark=bench,
        run=n,
        status=NOT_STARTED,
        reason=f"cache drop failed: {drop.error}",
        cache_drop=where.drop_record(drop),
        start=now_iso(),
    )
    save_record(campaign.layout.cache_drop_failure_path(bench, n), failed)
    raise CampaignStopped(
        f"cache drop before {bench} run {n} failed: {drop.error} "
        "(run as root, pass --cache-drop-command, or --allow-cache-drop-failure)"
    )


def _prepare(
    campaign: Campaign,
    planned: PlannedRun,
    setup: BenchmarkSetup,
    runtime: Runtime,
    image: ImageInfo,
    options: RunOptions,
    drop: CacheDrop,
    where: RunPlacement,
) -> _Prepared:
    """Draw the seed, plan the run where it runs and save its record (status running)."""
    bench, n = planned.benchmark, planned.index
    seed = fresh_seed(campaign.used_seeds(bench))
    name = f"{container_name(campaign, bench, n)}-{secrets.token_hex(3)}"
    plan = plan_run(campaign, planned, setup, runtime, where, seed, name, options.timeout_seconds)
    record = _new_record(campaign, plan, setup.manifest, runtime, image, options)
    launch = plan.launch
    record.update(
        seed=seed,
        timeout_seconds=plan.timeout,
        cache_drop=where.drop_record(drop),
        relaxed=launch.options.relaxed(),
        launch=launch.as_record() | {"notes": where.notes},
        **where.record_fields(),
    )
    save_record(plan.record, record)
    meta = campaign.meta
    names = {"org": meta.org, "system": meta.system, "suite": meta.suite, "created": meta.created}
    return _Prepared(plan, setup.placed(where.place), where, record, campaign.layout, names)


def _new_record(
    campaign: Campaign,
    plan: RunPlan,
    manifest: BenchmarkManifest,
    runtime: Runtime,
    image: ImageInfo,
    options: RunOptions,
) -> RunRecord:
    """The record of a run about to start: what runs, how, and where."""
    record = RunRecord(
        benchmark=plan.benchmark,
        run=plan.index,
        log=campaign.layout.relative(plan.result),
        status=RUNNING,
        runtime=runtime.name,
        container=plan.spec.name,
        command=plan.shown,
        image=manifest.image,
        image_pinned=manifest.pinned,
        image_pinned_locally=manifest.pinned_locally,
        image_id=image.id,
        image_repo_digests=list(image.repo_digests),
        allow_unpinned=options.allow_unpinned,
        preflight=options.preflight,
        earlier_attempts=campaign.layout.attempt_count(plan.benchmark, plan.index),
        manifest=str(manifest.path),
        privileged=plan.spec.privileged,
        network=plan.spec.network,
        host=socket.gethostname(),
        gp2bm_version=__version__,
        gp2bm_pid=os.getpid(),
        start=now_iso(),
    )
    record.update(**node_identity())  # the node (the Slurm node) and its hardware fingerprint
    return record


def _write_header(sink: BinaryIO, run: _Prepared, drop: CacheDrop) -> None:
    """gp2bm's own first lines: the cache drop (every node's), what runs where
    (traceability), and the submission lines when the manifest says gp2bm writes them
    (NVIDIA's ResNet)."""
    record = run.record
    for line in run.placement.cache_clear_lines(drop):
        sink.write(line)
    trace = {
        "gp2bm_version": record.gp2bm_version,
        "benchmark": record.benchmark,
        "run": record.run,
        "seed": record.seed,
        "image": record.image,
        "image_id": record.image_id,
        "runtime": record.runtime,
        "host": record.host,
        "node": record.node,
        "allow_unpinned": record.allow_unpinned,
        "earlier_attempts": record.earlier_attempts,
        "campaign": run.campaign,
    }
    sink.write(mllog_line(KEY_TRACE, trace))
    sink.write(run.setup.header(int(time.time() * 1000)))
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
    execution, telemetry = _start(run, runtime, sink, timer)
    try:
        code, reason = _follow(execution, run.plan.timeout, options.stop_grace_seconds, tick, t0)
    except KeyboardInterrupt:
        raise _interrupted(run, execution, telemetry, options, t0) from None
    finally:
        output_error = execution.output_error
        run.record.telemetry = telemetry.stop()
    execution.close()
    ended = _Ended(code, reason, output_error, time.monotonic() - t0, timer.seconds)
    _stop_unless_the_workload_ended(run, runtime.name, execution, ended)
    return ended


def _start(
    run: _Prepared, runtime: Runtime, sink: BinaryIO, timer: RunTimer
) -> tuple[Execution, Sampler]:
    """The run's processes where it runs, and its telemetry (every node's)."""
    where = run.placement

    def on_line(line: bytes) -> None:
        timer.on_line(line)
        where.on_line(line)

    execution = where.start(runtime, run.plan.spec, run.plan.launch, sink, on_line)
    return execution, where.telemetry(run.layout, run.bench, run.n)


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
    telemetry: Sampler,
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
    save_record(run.plan.record, run.record)
    return Interrupted(
        f"interrupted during {run.bench} run {run.n}; its log is kept as an attempt and the "
        "run is redone by the next run-all"
    )


def _stop_unless_the_workload_ended(
    run: _Prepared, runtime_name: str, execution: Execution, ended: _Ended
) -> None:
    """A full disk, a lost engine or a lost node is not the workload's failure: the
    campaign stops and the run is kept as an attempt, redone by the next run-all."""
    if is_disk_full(ended.output_error):
        raise disk_full(run.plan.partial, ended.output_error)
    lost_node = run.placement.lost() if ended.reason is None else None
    if lost_node:
        run.record.update(
            status=ABORTED,
            reason=f"{lost_node}; the run is redone by the next run-all",
            exit_code=ended.code,
            stop=now_iso(),
            seconds=ended.seconds,
        )
        save_record(run.plan.record, run.record)
        raise CampaignStopped(
            f"{run.bench} run {run.n}: {lost_node}: its log is kept as an attempt and the run "
            "is redone by the next run-all"
        )
    lost = execution.lost
    if not lost:
        return
    run.record.update(
        status=INTERRUPTED,
        reason=f"container engine lost: {lost}",
        stop=now_iso(),
        seconds=ended.seconds,
    )
    save_record(run.plan.record, run.record)
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
    log: RunLog = parse_run_log(run.plan.partial)
    if reason is None and log.status != "success":
        reason = "the log has no successful run_stop"
    verdict = SUCCESS if reason is None else ABORTED
    if verdict == SUCCESS:
        # a run that ended well but whose submission lines break compliance: say why
        run.record.submission_problem = writer_problem(
            run.setup.manifest.submission_lines, run.plan.partial.read_bytes(), run.record.manifest
        )
    closing = {
        "status": verdict,
        "exit_code": ended.code,
        "reason": reason,
        "seconds": ended.seconds,
        "observed_seconds": ended.observed_seconds,
    }
    sink.write(mllog_line(KEY_END, closing))
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

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
from dataclasses import dataclass, field, replace
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
from gp2bm.files.redact import find_secrets, redact_argv, secret_values
from gp2bm.files.timestamps import now_iso
from gp2bm.node.cachedrop import CacheDrop, drop_page_cache
from gp2bm.node.fingerprint import node_identity
from gp2bm.results.runlog import RunLog, parse_run_log
from gp2bm.run.benchsetup import BenchmarkSetup, benchmark_setup, submission_env
from gp2bm.run.mllog import KEY_END, KEY_TRACE, mllog_line
from gp2bm.run.nodetelemetry import NodesTelemetry, telemetry_paths
from gp2bm.run.options import RunOptions
from gp2bm.run.plan import container_name
from gp2bm.run.progress import LiveStatus
from gp2bm.run.seeds import fresh_seed
from gp2bm.run.spanning import SpanRun, open_span
from gp2bm.run.submission import writer_problem
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
from gp2bm.runtimes.span import Span
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
    setup: BenchmarkSetup
    record: RunRecord
    record_path: Path
    partial: Path  # its log while it runs
    telemetry_path: Path
    timeout: float | None
    # a run across nodes: where it runs and what its nodes said; how srun starts it
    span_run: SpanRun | None = None
    span: Span | None = None
    node_telemetry: dict[str, Path] = field(default_factory=dict)  # each node's CSV


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
    campaign.layout.records_dir(planned.benchmark).mkdir(parents=True, exist_ok=True)
    campaign.layout.benchmark_dir(planned.benchmark).mkdir(parents=True, exist_ok=True)
    span_run = None
    if setup.spans:
        span_run = open_span(campaign, setup.manifest, runtime, options, setup.nodes)
        setup = replace(setup, place=span_run.place)
    drop = _drop_cache(campaign, planned.benchmark, planned.index, options, span_run)
    run = _prepare(campaign, planned, setup, runtime, image, options, drop, span_run)
    with writing(run.partial), open(run.partial, "wb") as sink:
        _write_header(sink, run, drop)
        ended = _supervise(run, runtime, sink, options, status, tick)
        _close_log(sink, run, ended)
    run.record.secrets_in_log = _secrets_shown(run) or None
    os.replace(run.partial, campaign.layout.result_path(run.bench, run.n))
    run.record.stop = now_iso()
    save_record(run.record_path, run.record)
    return RunOutcome(planned, run.record)


def _secrets_shown(run: _Prepared) -> list[str]:
    """Where the log shows a secret value the run was given (never the value). The log is
    evidence and stays as written; the record and the campaign's output say it."""
    env = dict(run.spec.env)
    if run.setup.manifest.local is not None:  # the local runtime's own variables
        env.update(run.setup.manifest.local.environment)
    return [str(found) for found in find_secrets(run.partial, secret_values(env))]


# ---------------------------------------------------------------------------- prepare


def _drop_cache(
    campaign: Campaign, bench: str, n: int, options: RunOptions, span_run: SpanRun | None
) -> CacheDrop:
    """Drop the page cache (a run across nodes: every node's, dropped by its node step); a
    failure stops the campaign (recorded) unless allowed."""
    if not options.cache_drop:
        return CacheDrop(False, "disabled (--no-cache-drop)", 0.0, "not attempted")
    drop = span_run.cache_drop() if span_run else drop_page_cache(options.cache_drop_command)
    if drop.ok or options.allow_cache_drop_failure:
        return drop
    failed = RunRecord(
        benchmark=bench,
        run=n,
        status=NOT_STARTED,
        reason=f"cache drop failed: {drop.error}",
        cache_drop=_drop_record(drop, span_run),
        start=now_iso(),
    )
    save_record(campaign.layout.cache_drop_failure_path(bench, n), failed)
    raise CampaignStopped(
        f"cache drop before {bench} run {n} failed: {drop.error} "
        "(run as root, pass --cache-drop-command, or --allow-cache-drop-failure)"
    )


def _drop_record(drop: CacheDrop, span_run: SpanRun | None) -> dict:
    """The record's cache drop: the run's, and each node's for a run across nodes."""
    return {**drop.as_dict(), "nodes": span_run.drops()} if span_run else drop.as_dict()


def _prepare(
    campaign: Campaign,
    planned: PlannedRun,
    setup: BenchmarkSetup,
    runtime: Runtime,
    image: ImageInfo,
    options: RunOptions,
    drop: CacheDrop,
    span_run: SpanRun | None = None,
) -> _Prepared:
    """Draw the seed, plan the launch, render the run and save its record (status running)."""
    bench, n, manifest = planned.benchmark, planned.index, setup.manifest
    seed = fresh_seed(campaign.used_seeds(bench))
    name = f"{container_name(campaign, bench, n)}-{secrets.token_hex(3)}"
    labels = {LABEL_CAMPAIGN: campaign.ident, LABEL_RUN: f"{bench}/{n}"}
    launch = setup.launch(seed, {**submission_env(campaign), **options.extra_env})
    spec = run_spec(manifest, name, seed, {}, labels, launch=launch)
    span = span_run.span(launch) if span_run else None
    timeout = options.timeout_seconds
    if timeout is None and manifest.timeout_minutes:
        timeout = manifest.timeout_minutes * 60
    record = _new_record(campaign, planned, manifest, runtime, image, options, spec, span)
    record.update(
        seed=seed,
        timeout_seconds=timeout,
        cache_drop=_drop_record(drop, span_run),
        relaxed=launch.options.relaxed(),
        launch=launch.as_record() | ({"notes": span_run.notes} if span_run else {}),
    )
    if span_run:
        record.update(**span_run.record_fields())
    run = _Prepared(
        bench=bench,
        n=n,
        spec=spec,
        setup=setup,
        record=record,
        record_path=campaign.layout.record_path(bench, n),
        partial=campaign.layout.partial_path(bench, n),
        telemetry_path=campaign.layout.telemetry_path(bench, n),
        timeout=timeout,
        span_run=span_run,
        span=span,
        node_telemetry=telemetry_paths(campaign, bench, n, span_run.nodes) if span_run else {},
    )
    save_record(run.record_path, record)
    return run


def _new_record(
    campaign: Campaign,
    planned: PlannedRun,
    manifest: BenchmarkManifest,
    runtime: Runtime,
    image: ImageInfo,
    options: RunOptions,
    spec: RunSpec,
    span: Span | None = None,
) -> RunRecord:
    """The record of a run about to start: what runs, how, and where."""
    bench, n = planned.benchmark, planned.index
    command = runtime.render_span(spec, span) if span else runtime.render(spec)
    record = RunRecord(
        benchmark=bench,
        run=n,
        log=campaign.layout.relative(campaign.layout.result_path(bench, n)),
        status=RUNNING,
        runtime=runtime.name,
        container=spec.name,
        command=redact_argv(command),
        image=manifest.image,
        image_pinned=manifest.pinned,
        image_id=image.id,
        image_repo_digests=list(image.repo_digests),
        allow_unpinned=options.allow_unpinned,
        manifest=str(manifest.path),
        privileged=spec.privileged,
        network=spec.network,
        host=socket.gethostname(),
        gp2bm_version=__version__,
        gp2bm_pid=os.getpid(),
        start=now_iso(),
    )
    record.update(**node_identity())  # the node (the Slurm node) and its hardware fingerprint
    return record


def _write_header(sink: BinaryIO, run: _Prepared, drop: CacheDrop) -> None:
    """gp2bm's own first lines: the cache drop, what runs where (traceability), and the
    submission lines when the manifest says gp2bm writes them (NVIDIA's ResNet)."""
    record = run.record
    if run.span_run is None:
        sink.write(mllog_line("cache_clear", drop.ok, {"method": drop.method}))
    else:  # one line per node, as NVIDIA's run.sub has every node's task write it
        for node in run.span_run.nodes:
            each = run.span_run.drops().get(node) or drop.as_dict()
            sink.write(
                mllog_line("cache_clear", each["ok"], {"method": each["method"], "node": node})
            )
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


def _start(
    run: _Prepared, runtime: Runtime, sink: BinaryIO, timer: RunTimer
) -> tuple[Execution, TelemetrySampler | NodesTelemetry]:
    """The run's processes, and its telemetry: this node's, or every node's."""
    span_run = run.span_run
    if span_run is None:
        return runtime.start(run.spec, sink, timer.on_line), start_telemetry(run.telemetry_path)

    def on_line(line: bytes) -> None:
        timer.on_line(line)
        span_run.on_line(line)

    execution = runtime.start_span(run.spec, run.span, sink, on_line)
    return execution, NodesTelemetry(span_run, run.node_telemetry)


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
    """A full disk, a lost engine or a lost node is not the workload's failure: the
    campaign stops and the run is kept as an attempt, redone by the next run-all."""
    if is_disk_full(ended.output_error):
        raise disk_full(run.partial)
    lost_node = run.span_run.lost() if run.span_run and ended.reason is None else None
    if lost_node:
        run.record.update(
            status=ABORTED,
            reason=f"{lost_node}; the run is redone by the next run-all",
            exit_code=ended.code,
            stop=now_iso(),
            seconds=ended.seconds,
        )
        save_record(run.record_path, run.record)
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
    if verdict == SUCCESS:
        # a run that ended well but whose submission lines break compliance: say why
        run.record.submission_problem = writer_problem(
            run.setup.manifest.submission_lines, run.partial.read_bytes(), run.record.manifest
        )
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

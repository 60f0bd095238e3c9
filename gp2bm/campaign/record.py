"""The run record: what gp2bm knows about one run, beside its log (``records/<bench>/run_N.json``).

Written when a run starts (status ``running``), rewritten when it ends, kept with the
attempt's log when it was interrupted. Every reader (resume, status, reports, bundle,
verify, the node-type check) goes through ``RunRecord``, so a key is spelt once. On disk it
is a JSON object carrying ``schema``; keys a newer gp2bm wrote are kept as they were read.

Reading is tolerant for the vendor's own commands (``RunRecord.load``: a record of an older
gp2bm still shows) and strict for verify (``read_strict``: a record that is not of this
schema, lacks a key or has a value of the wrong type is a finding, never a skipped check).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gp2bm.errors import InputError
from gp2bm.files.jsonfile import read_json_or_empty, write_json_atomic
from gp2bm.files.plaintext import printable

SCHEMA = "gp2bm.run-record/2"
SCHEMA_PREFIX = "gp2bm.run-record/"
FORMAT_NUMBER = int(SCHEMA.removeprefix(SCHEMA_PREFIX))

RUNNING = "running"
SUCCESS = "success"
ABORTED = "aborted"
INTERRUPTED = "interrupted"
NOT_STARTED = "not started"

# How the pre-flight went before a run: passed, passed with warnings, skipped
# (--skip-check), or the checks of each node of a run across nodes (its node step).
PREFLIGHT_PASSED = "passed"
PREFLIGHT_WARNED = "passed with warnings"
PREFLIGHT_SKIPPED = "skipped"


@dataclass
class RunRecord:
    benchmark: str
    run: int
    log: str = ""  # the result log, relative to the campaign folder
    status: str = RUNNING  # running | success | aborted | interrupted
    reason: str | None = None
    seed: int | None = None
    # what ran, and how
    runtime: str = ""
    container: str = ""
    command: list[str] = field(default_factory=list)
    image: str = ""
    image_pinned: bool = False  # by a registry's digest
    # by its local image ID or its file's sha256 (no registry holds it: gp2bm pin --local)
    image_pinned_locally: bool = False
    image_id: str | None = None
    image_repo_digests: list[str] = field(default_factory=list)
    allow_unpinned: bool = False
    manifest: str = ""
    privileged: bool = False
    # what else weakens the container's isolation (seccomp=unconfined, cap_add=SYS_NICE,
    # uts=host, ...), shown wherever `privileged` is
    relaxed: list[str] = field(default_factory=list)
    network: str | None = None
    # the launch as resolved (gp2bm.run.launch.RunLaunch.as_record): launcher, processes per
    # node, config file, the environment (secrets redacted), container options, problems
    launch: dict | None = None
    timeout_seconds: float | None = None
    # where it ran
    host: str = ""
    node: str | None = None
    node_fingerprint: str | None = None
    node_facts: dict | None = None
    # a run across nodes: every node of it (rank 0's first), and each one's hardware:
    # {node: {"fingerprint": ..., "facts": {...}}}
    nodes: list[str] | None = None
    node_hardware: dict | None = None
    slurm_job: str | None = None
    gp2bm_version: str = ""
    gp2bm_pid: int | None = None
    cache_drop: dict | None = None
    preflight: str | None = None  # PREFLIGHT_*
    # how it went
    start: str | None = None
    stop: str | None = None
    seconds: float | None = None
    # gp2bm's monotonic clock from the run_start line to the run_stop line, as they came
    observed_seconds: float | None = None
    exit_code: int | None = None
    log_status: str | None = None
    minutes: float | None = None
    best_accuracy: float | None = None
    # why the log's submission_* lines break compliance (missing, or written twice), naming
    # the manifest's fix (gp2bm.run.submission.writer_problem)
    submission_problem: str | None = None
    # secrets the workload printed into its log: "NAME: line N (K times)", never the value
    secrets_in_log: list[str] | None = None
    telemetry: dict | None = None
    # node power over the measured loop: MLPerf's power logs written, the energy, findings
    # (gp2bm.run.power.write_power_logs)
    power: dict | None = None
    attempt_log: str | None = None
    # how many earlier attempts of this run were kept (interrupted, redone by this one)
    earlier_attempts: int = 0
    # keys this gp2bm does not know (a newer one wrote them): kept, written back as read
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS

    @property
    def where(self) -> str | None:
        """The node it ran on (the Slurm node name), else the host name."""
        return self.node or self.host or None

    def update(self, **changes: Any) -> None:
        for key, value in changes.items():
            if key not in _FIELDS:
                raise AttributeError(f"RunRecord has no field {key!r}")
            setattr(self, key, value)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "extra"}
        return {**self.extra, **data, "schema": SCHEMA}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """A record as read from disk; wrong-typed values of the known keys become None."""
        known = {}
        for f in fields(cls):
            if f.name in ("extra",) or f.name not in data:
                continue
            known[f.name] = data[f.name]
        extra = {k: v for k, v in data.items() if k not in _FIELDS and k != "schema"}
        bench, run = known.pop("benchmark", ""), known.pop("run", -1)
        record = cls(benchmark=str(bench), run=run if isinstance(run, int) else -1, extra=extra)
        for key, value in known.items():
            if _type_ok(key, value):
                setattr(record, key, value)
        return record

    @classmethod
    def load(cls, path: Path) -> RunRecord | None:
        """The record at ``path``, or None when there is none (or it is not a record). Its
        format is not checked: the readers of whole campaigns do (``check_format``)."""
        data = read_json_or_empty(path)
        return cls.from_dict(data) if data else None

    def save(self, path: Path) -> None:
        write_json_atomic(path, self.to_dict())


_FIELDS = {f.name for f in fields(RunRecord)} - {"extra"}
_TYPES: dict[str, tuple[type, ...]] = {
    "seed": (int,),
    "status": (str,),
    "reason": (str,),
    "log": (str,),
    "command": (list,),
    "image_repo_digests": (list,),
    "node_facts": (dict,),
    "nodes": (list,),
    "node_hardware": (dict,),
    "cache_drop": (dict,),
    "telemetry": (dict,),
    "power": (dict,),
    "seconds": (int, float),
    "observed_seconds": (int, float),
    "minutes": (int, float),
    "best_accuracy": (int, float),
    "timeout_seconds": (int, float),
    "exit_code": (int,),
    "earlier_attempts": (int,),
    "image_pinned": (bool,),
    "image_pinned_locally": (bool,),
    "allow_unpinned": (bool,),
    "privileged": (bool,),
    "relaxed": (list,),
    "launch": (dict,),
    "submission_problem": (str,),
    "secrets_in_log": (list,),
    "preflight": (str,),
    "runtime": (str,),
    "image": (str,),
    "image_id": (str,),
    "gp2bm_version": (str,),
    "host": (str,),
    "node": (str,),
    "start": (str,),
    "stop": (str,),
    "container": (str,),
}
# What every record of a finished run of this schema holds (verify reads it strictly).
REQUIRED = (
    "benchmark",
    "run",
    "log",
    "status",
    "seed",
    "runtime",
    "image",
    "image_pinned",
    "allow_unpinned",
    "gp2bm_version",
    "host",
    "start",
    "stop",
    "seconds",
    "observed_seconds",
    "exit_code",
    "cache_drop",
    "preflight",
    "command",
    "relaxed",
    "privileged",
    "node_facts",
    "earlier_attempts",
)


def _format_number(schema: object) -> int | None:
    """The number of a record format name (``gp2bm.run-record/2``: 2), else None."""
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_PREFIX):
        return None
    number = schema.removeprefix(SCHEMA_PREFIX)
    return int(number) if number.isdecimal() and len(number) < 6 else None


def check_format(data: dict, where: Path | str) -> None:
    """InputError (one line naming ``where``) for a record whose ``schema`` is no format
    this gp2bm reads: a newer one (``gp2bm.run-record/99``, written by a later gp2bm: its
    keys may mean other things) or no record format at all. A record of an older format
    (or of the first, which had no ``schema``) is read as the vendor's commands read it."""
    schema = data.get("schema")
    number = _format_number(schema)
    if schema is None or (number is not None and number <= FORMAT_NUMBER):
        return
    shown = printable(schema, 40) if isinstance(schema, str) else repr(schema)[:40]
    raise InputError(
        f"{where}: a run record of format {shown}, which this gp2bm (reading {SCHEMA}) does "
        "not know: read it with the gp2bm that wrote it, or a newer one"
    )


def read_strict(path: Path, where: str) -> tuple[RunRecord | None, list[str]]:
    """The record at ``path`` as verify reads it: a JSON object of this schema with every
    REQUIRED key, each known key of its type. Returns the record (None when it is no
    record at all) and what is wrong with it, one line each naming ``where``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return None, [f"{where}: not a readable JSON record ({type(exc).__name__})"]
    if not isinstance(data, dict):
        return None, [f"{where}: not a JSON object"]
    schema = data.get("schema")
    if schema != SCHEMA:
        older = isinstance(schema, str) and schema.startswith(SCHEMA_PREFIX) and schema < SCHEMA
        what = "an older" if older else "an unknown"
        shown = printable(schema, 40) if isinstance(schema, str) else repr(schema)[:40]
        return RunRecord.from_dict(data), [
            f"{where}: {what} record format {shown} (this gp2bm reads {SCHEMA})"
        ]
    problems = [f"{where}: '{key}' is missing" for key in REQUIRED if key not in data]
    problems += [
        f"{where}: '{key}' is not of its type ({type(value).__name__})"
        for key, value in data.items()
        if key in _FIELDS and not _type_ok(key, value)
    ]
    if not isinstance(data.get("run"), int) or isinstance(data.get("run"), bool):
        problems.append(f"{where}: 'run' is not a run number")
    return RunRecord.from_dict(data), problems


def _type_ok(key: str, value: Any) -> bool:
    if value is None:
        return True
    want = _TYPES.get(key)
    if want is None:
        return True
    if isinstance(value, bool) and bool not in want:
        return False  # True is an int to Python, never a seed or a time
    return isinstance(value, want)

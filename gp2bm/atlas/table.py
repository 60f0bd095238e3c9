"""The atlas as data: one ``AtlasRow`` per published result set (round, submitter, system,
benchmark), read from the package's ``atlas.json`` and written by the build.

``atlas.json`` is one JSON object, ``{"format": "gp2bm.atlas/1", "columns": [...],
"rows": [[...], ...]}``, one row per line (a rebuild's diff is readable), each row the
values of ``columns`` in order; a run is ``[file, milliseconds, status, failed, init_ms]``
(run_stop - run_start, and run_start - init_start, in ms as the log stamps them; null when
absent). Floats are written as Python's ``repr``, so that reading gives back the very
number the build computed. A reader refuses a format it does not know.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from functools import cache
from importlib import resources
from pathlib import Path

from gp2bm.atlas.accelerators import SPELLINGS, accelerator_name, named_by
from gp2bm.errors import InputError

FORMAT = "gp2bm.atlas/1"
ATLAS_FILE = "atlas.json"
MANIFEST_FILE = "manifest.json"
BENCHMARKS = ("resnet", "bert")
DIVISIONS = ("closed", "open")
MS_PER_MINUTE = 60000


@dataclass(frozen=True)
class RunEntry:
    """One published run: its log's name, time to train and initialisation (in ms)."""

    file: str
    ms: int | None  # run_stop - run_start
    status: str  # run_stop's status, or "no run_stop"
    failed: bool  # a failed run in MLCommons' arithmetic (not success, or unreadable)
    init_ms: int | None  # run_start - init_start, where the log stamps both

    @property
    def minutes(self) -> float | None:
        return None if self.ms is None else self.ms / MS_PER_MINUTE

    def to_json(self) -> list:
        return [self.file, self.ms, self.status, self.failed, self.init_ms]

    @classmethod
    def from_json(cls, value: list) -> RunEntry:
        file, ms, status, failed, init_ms = value
        return cls(str(file), ms, str(status), bool(failed), init_ms)


@dataclass(frozen=True)
class AtlasRow:
    """One published result set and what gp2bm's scoring makes of its logs."""

    round: str  # v4.0
    submitter: str  # the submitter's folder in the results repository
    system: str  # the system's name (its results folder and system description)
    benchmark: str  # resnet | bert
    division: str  # closed | open
    availability: str  # available | preview | research (from the published status)
    status: str  # the system description's status, as published
    accelerator: str  # the one name (accelerators.py), or the cleaned spelling
    accelerator_published: str
    accelerator_known: bool  # the table of spellings knows the published one
    accelerators_per_node: int | None
    nodes: int | None
    host_cpu: str
    framework: str
    minutes: float | None  # the result: olympic mean x scaling factor (None: no result)
    unscaled_minutes: float | None
    scaling_factor: float
    runs: tuple[RunEntry, ...]
    source: str  # the benchmark folder's path in the repository
    commit: str

    @property
    def count(self) -> int | None:
        """Accelerators in all: per node times nodes."""
        if self.accelerators_per_node is None or self.nodes is None:
            return None
        return self.accelerators_per_node * self.nodes

    @property
    def valid(self) -> bool:
        return self.minutes is not None

    @property
    def init_minutes(self) -> float | None:
        """The median initialisation of a run (init_start to run_start), where logged."""
        times = [r.init_ms / MS_PER_MINUTE for r in self.runs if r.init_ms is not None]
        return statistics.median(times) if times else None

    @property
    def fingerprint(self) -> tuple:
        """The result's own runs: the same logs published again (in a later round, by a
        partner, as a power submission's twin) have the same fingerprint."""
        return (self.benchmark, tuple(sorted(r.ms if r.ms is not None else -1 for r in self.runs)))

    @property
    def key(self) -> tuple[tuple[int, ...], str, str, str]:
        return (round_key(self.round), self.submitter, self.system, self.benchmark)

    @property
    def label(self) -> str:
        return f"{self.round} {self.submitter} {self.system} {self.benchmark}"

    def to_json(self) -> list:
        return [
            [r.to_json() for r in self.runs] if f.name == "runs" else getattr(self, f.name)
            for f in fields(self)
        ]

    def as_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["runs"] = [
            {"file": r.file, "minutes": r.minutes, "status": r.status, "failed": r.failed}
            for r in self.runs
        ]
        data["count"] = self.count
        data["init_minutes"] = self.init_minutes
        return data


COLUMNS = tuple(f.name for f in fields(AtlasRow))


def round_key(name: str) -> tuple[int, ...]:
    """v0.7 < v1.0 < v1.1 < ... (a round's name as numbers)."""
    try:
        return tuple(int(part) for part in name.lstrip("v").split("."))
    except ValueError:
        return (10**6,)


def row_from_json(value: list, where: str) -> AtlasRow:
    if not isinstance(value, list) or len(value) != len(COLUMNS):
        raise InputError(f"{where}: a row is not a list of the {len(COLUMNS)} columns")
    data = dict(zip(COLUMNS, value, strict=True))
    data["runs"] = tuple(RunEntry.from_json(r) for r in data["runs"])
    return AtlasRow(**data)


def dumps(rows: Iterable[AtlasRow]) -> str:
    """The atlas file's text: the same rows give the same bytes."""
    head = json.dumps({"format": FORMAT, "columns": list(COLUMNS)}, separators=(",", ":"))
    lines = [json.dumps(row.to_json(), separators=(",", ":")) for row in sorted_rows(rows)]
    return head[:-1] + ',"rows":[\n' + ",\n".join(lines) + "\n]}\n"


def loads(text: str, where: str) -> list[AtlasRow]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{where}: not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise InputError(f"{where}: format {found!r}, expected {FORMAT!r}")
    if doc.get("columns") != list(COLUMNS):
        raise InputError(f"{where}: its columns are not those of {FORMAT}")
    try:
        return [row_from_json(row, where) for row in doc["rows"]]
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: a malformed row ({exc})") from None


def sorted_rows(rows: Iterable[AtlasRow]) -> list[AtlasRow]:
    return sorted(rows, key=lambda r: r.key)


class Atlas:
    """Every published result set, filtered with ``rows``."""

    def __init__(self, rows: Sequence[AtlasRow], manifest: dict | None = None):
        self.all = tuple(sorted_rows(rows))
        self.manifest = manifest or {}

    def __len__(self) -> int:
        return len(self.all)

    def rows(
        self,
        benchmark: str | None = None,
        accelerator: str | None = None,
        count: int | None = None,
        nodes: int | None = None,
        round: str | None = None,  # noqa: A002 - MLCommons' word for it
        division: str | None = None,
    ) -> list[AtlasRow]:
        """The rows that match every filter given (None: any). ``accelerator`` is any
        spelling of it (the one name, or a published spelling)."""
        wanted = accelerator_name(accelerator)[0].casefold() if accelerator else None
        return [
            row
            for row in self.all
            if (benchmark is None or row.benchmark == benchmark)
            and (wanted is None or row.accelerator.casefold() == wanted)
            and (count is None or row.count == count)
            and (nodes is None or row.nodes == nodes)
            and (round is None or row.round == round)
            and (division is None or row.division == division)
        ]

    def results(
        self,
        benchmark: str,
        accelerator: str | None = None,
        count: int | None = None,
        nodes: int | None = None,
    ) -> list[AtlasRow]:
        """The closed-division results (a valid result, each once: a result published
        again is kept in its latest round) of an accelerator, at a count and node count
        (None: any)."""
        latest: dict[tuple, AtlasRow] = {}
        for row in self.rows(benchmark, accelerator, count, nodes, division="closed"):
            if row.valid:
                latest[row.fingerprint] = row  # rows are in round order: the latest stays
        return sorted_rows(latest.values())

    def without(self, excluded: AtlasRow) -> Atlas:
        """The atlas less a result and every publication of it (the same runs): what the
        others say of it."""
        return Atlas(
            [row for row in self.all if row.fingerprint != excluded.fingerprint], self.manifest
        )

    @property
    def rounds(self) -> list[str]:
        return sorted({row.round for row in self.all}, key=round_key)

    @property
    def accelerators(self) -> list[str]:
        return sorted({row.accelerator for row in self.all if row.accelerator})

    def one_accelerator(self, given: str, option: str = "--accelerator") -> None:
        """InputError when ``given`` is a shorter name of several accelerators, or of one
        under another name ("H100", "A100", "MI300X"): which one is asked, not guessed.
        A name the table knows, or one no accelerator's name holds, passes."""
        others = named_by(given, set(SPELLINGS) | set(self.accelerators))
        if not others:
            return
        as_published = len(self.rows(accelerator=given))
        alone = (
            f" ({given!r} alone is how {as_published} result(s) were published: it says "
            "too little to join the others)"
            if as_published
            else ""
        )
        raise InputError(
            f"{option} {given}: the published results name {len(others)} accelerator(s) so: "
            f"{', '.join(others)}{alone}; give one of them (gp2bm atlas lists their results)"
        )


def data_path(name: str = ATLAS_FILE) -> Path:
    """A file shipped in the package (the atlas, its manifest)."""
    return Path(str(resources.files("gp2bm.atlas").joinpath(name)))


@cache
def _shipped() -> Atlas:
    path = data_path()
    try:
        text = path.read_text(encoding="utf-8")
        manifest = json.loads(data_path(MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: the shipped atlas cannot be read ({exc})") from None
    return Atlas(loads(text, str(path)), manifest)


def load_atlas(path: Path | None = None) -> Atlas:
    """The atlas shipped with gp2bm (read once), or the one at ``path``."""
    if path is None:
        return _shipped()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    manifest_path = Path(path).with_name(MANIFEST_FILE)
    manifest = {}
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return Atlas(loads(text, str(path)), manifest)

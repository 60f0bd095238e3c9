"""Building the atlas from MLCommons' results repositories (``scripts/build_atlas.py``).

For each round's repository (``mirror.find_repositories``), at the commit its ``HEAD``
names: every ResNet and BERT result set and its system description (``sources``); each
set's logs (and ``scaling.json``) written to a temporary folder, parsed by gp2bm's parser
and scored by gp2bm's scoring exactly as MLCommons' summarizer publishes it: run_stop -
run_start per run, the olympic mean (a failed run in the dropped slowest's place), times
the shipped ``scaling.json``; compliance and RCP checks off (historical logs fail today's
checkers through rule drift, and the review already accepted them). The sets are scored in
parallel, one process per core. Then each official number of the round's summary files is
compared with gp2bm's (``summaries``).

The same repositories at the same commits give the same bytes: rows sorted, floats as
``repr``, nothing of the machine, the mirror's path or the time in the files.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

from gp2bm import __version__
from gp2bm.atlas import sources, summaries
from gp2bm.atlas.accelerators import accelerator_name, has_no_accelerator
from gp2bm.atlas.mirror import BlobReader, Repository, find_repositories, list_tree
from gp2bm.atlas.sources import ResultSet, SystemFacts, Unread
from gp2bm.atlas.table import ATLAS_FILE, BENCHMARKS, AtlasRow, RunEntry, dumps, sorted_rows
from gp2bm.errors import InputError
from gp2bm.results.resultset import result_files
from gp2bm.results.runlog import RunLog, parse_run_log
from gp2bm.results.scoring import RcpMode, RunScore, ScoringOptions, score_benchmark
from gp2bm.spec.suite import ComplianceMode

MANIFEST_FORMAT = "gp2bm.atlas-manifest/1"
SCORING = (
    "gp2bm.results.scoring.score_benchmark on each set's logs as published: per run "
    "run_stop - run_start; olympic mean (fastest dropped, slowest dropped unless a run "
    "failed, more than one failed run: no result); times scaling.json's factor where the "
    "folder has one; compliance and RCP checks off"
)
# A run's initialisation longer than this is not one (a log that stamps init_start at 0).
MAX_INIT_MS = 6 * 3600 * 1000

Progress = Callable[[int, int], None]
# What a row takes from its set's score (the rest from the set and its system description).
SCORED_FIELDS = ("minutes", "unscaled_minutes", "scaling_factor", "runs")


@dataclass(frozen=True)
class SetTask:
    """One result set to score, as a worker process needs it."""

    round: str
    git_dir: str
    folder: str
    benchmark: str
    logs: tuple[tuple[str, str], ...]  # (file name, blob)
    scaling: str | None  # scaling.json's blob
    size: int

    @property
    def key(self) -> str:
        return f"{self.round}/{self.folder}"


@dataclass(frozen=True)
class SetScore:
    runs: tuple[RunEntry, ...] = ()
    unscaled_minutes: float | None = None
    scaling_factor: float = 1.0
    minutes: float | None = None
    problem: str | None = None  # why the set could not be scored
    notes: tuple[str, ...] = ()


# One `git cat-file --batch` per repository in each worker process.
_READERS: dict[str, BlobReader] = {}


def score_set(task: SetTask) -> SetScore:
    """Score one result set from its blobs (in a worker process)."""
    reader = _READERS.setdefault(task.git_dir, BlobReader(Path(task.git_dir)))
    files = list(task.logs) + ([(sources.SCALING_FILE, task.scaling)] if task.scaling else [])
    with tempfile.TemporaryDirectory(prefix="gp2bm-atlas-") as tmp:
        folder = Path(tmp) / task.benchmark
        folder.mkdir()
        absent = []
        for name, blob in files:
            data = reader.read(blob)
            if data is None:
                absent.append(name)
            else:
                (folder / name).write_bytes(data)
        if absent:
            return SetScore(
                problem=f"{len(absent)} of its {len(files)} files are listed by the commit but "
                f"not in the repository's store (a mirror leaves out files of 4 MiB and "
                f"more): {', '.join(absent[:3])}{' ...' if len(absent) > 3 else ''}"
            )
        return _score_folder(task, folder)


def _score_folder(task: SetTask, folder: Path) -> SetScore:
    logs = [parse_run_log(path) for path in result_files(folder)]
    options = ScoringOptions(
        sources.ruleset_of(task.round), compliance=ComplianceMode.OFF, rcp=RcpMode.OFF
    )
    try:
        result = score_benchmark(task.benchmark, folder, logs, None, options)
    except InputError as exc:  # a scaling.json that is not one
        return SetScore(problem=str(exc).replace(str(folder), task.folder))
    named = Counter(log.benchmark for log in logs if log.benchmark != task.benchmark)
    notes = tuple(
        f"{n} log(s) name benchmark {name!r}, not the folder's" for name, n in named.items()
    )
    return SetScore(
        runs=tuple(_run_entry(run, log) for run, log in zip(result.runs, logs, strict=True)),
        unscaled_minutes=result.mean,
        scaling_factor=result.scaling_factor if result.scaling_factor is not None else 1.0,
        minutes=result.minutes,
        notes=notes,
    )


def _run_entry(run: RunScore, log: RunLog) -> RunEntry:
    ms = None
    if log.start_ms is not None and log.stop_ms is not None:
        ms = log.stop_ms - log.start_ms
    init = None
    if log.init_start_ms and log.start_ms is not None:
        if 0 <= log.start_ms - log.init_start_ms <= MAX_INIT_MS:
            init = log.start_ms - log.init_start_ms
    return RunEntry(run.file, ms, run.status, run.failed, init)


def score_sets(
    tasks: list[SetTask], workers: int, progress: Progress | None = None
) -> dict[str, SetScore]:
    """Every set scored, in ``workers`` processes (1: in this one), largest first."""
    ordered = sorted(tasks, key=lambda t: (-t.size, t.key))
    scores: dict[str, SetScore] = {}
    if workers <= 1:
        for task in ordered:
            scores[task.key] = score_set(task)
            if progress is not None:
                progress(len(scores), len(tasks))
        return scores
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for task, score in zip(ordered, pool.map(score_set, ordered), strict=True):
            scores[task.key] = score
            if progress is not None:
                progress(len(scores), len(tasks))
    return scores


@dataclass
class RoundInput:
    """What a round's repository holds for the atlas, read in this process."""

    repo: Repository
    sets: list[ResultSet]
    systems: dict[str, SystemFacts]
    officials: list[summaries.OfficialResult]
    unread: list[Unread] = field(default_factory=list)
    notes: list[Unread] = field(default_factory=list)


def read_round(repo: Repository) -> RoundInput:
    entries = list_tree(repo)
    sets, unread = sources.find_sets(repo.round, entries)
    blobs = {e.path: e.blob for e in entries}
    reader = BlobReader(repo.git_dir)
    try:
        officials, summary_unread = summaries.official_results(repo.round, entries, reader.read)
        result = RoundInput(repo, [], {}, officials, unread + summary_unread)
        for path in sorted({s.system_path for s in sets}):
            _read_system(result, path, blobs, reader)
    finally:
        reader.close()
    for s in sets:
        if s.system_path in result.systems:
            result.sets.append(s)
        else:
            result.unread.append(Unread(repo.round, s.folder, "its system description is unread"))
    return result


def _read_system(into: RoundInput, path: str, blobs: dict[str, str], reader: BlobReader) -> None:
    round_ = into.repo.round
    data = reader.read(blobs[path]) if path in blobs else None
    doc, why = sources.read_system(data)
    if path not in blobs:
        why = "no system description"
    if doc is None:
        into.unread.append(Unread(round_, path, why or "unreadable"))
        return
    facts, problems = sources.system_facts(doc)
    into.systems[path] = facts
    into.notes.extend(Unread(round_, path, problem) for problem in problems)


def task_of(s: ResultSet, repo: Repository) -> SetTask:
    files = [*s.logs, *([s.scaling] if s.scaling else [])]
    return SetTask(
        round=s.round,
        git_dir=str(repo.git_dir),
        folder=s.folder,
        benchmark=s.benchmark,
        logs=tuple((e.path.rsplit("/", 1)[1], e.blob) for e in s.logs),
        scaling=s.scaling.blob if s.scaling else None,
        size=sum(e.size for e in files),
    )


def make_row(s: ResultSet, facts: SystemFacts, score: SetScore, commit: str) -> AtlasRow:
    name, known = accelerator_name(facts.accelerator_published)
    scored = {key: getattr(score, key) for key in SCORED_FIELDS}
    return AtlasRow(
        round=s.round,
        submitter=s.submitter,
        system=s.system,
        benchmark=s.benchmark,
        accelerator=name,
        accelerator_known=known,
        source=s.folder,
        commit=commit,
        **asdict(facts),
        **scored,
    )


@dataclass
class Build:
    """The atlas built, and everything its build output lists."""

    rows: list[AtlasRow]
    repositories: dict[str, Repository]
    absent_rounds: list[str]
    unread: list[Unread]
    notes: list[Unread]
    comparisons: list[summaries.Comparison]

    @property
    def text(self) -> str:
        return dumps(self.rows)

    @property
    def unknown_accelerators(self) -> dict[str, dict]:
        """Published spellings the table does not know: the name kept, and how many rows."""
        found: dict[str, dict] = {}
        for row in self.rows:
            if not row.accelerator_known and not has_no_accelerator(row.accelerator_published):
                entry = found.setdefault(
                    row.accelerator_published, {"name": row.accelerator, "rows": 0}
                )
                entry["rows"] += 1
        return dict(sorted(found.items()))

    @property
    def differing(self) -> list[summaries.Comparison]:
        return [c for c in self.comparisons if c.row is not None and not c.agrees]

    @property
    def not_in_atlas(self) -> list[summaries.Comparison]:
        return [c for c in self.comparisons if c.row is None]

    def manifest(self) -> dict:
        data = self.text.encode("utf-8")
        return {
            "format": MANIFEST_FORMAT,
            "gp2bm_version": __version__,
            "scoring": SCORING,
            "data": {
                "file": ATLAS_FILE,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "rows": len(self.rows),
            },
            "rounds": {r: self._round(r) for r in sorted(self.repositories, key=_round_order)},
            "absent_rounds": list(self.absent_rounds),
            "unknown_accelerators": self.unknown_accelerators,
            "official_summaries": {
                "files": sorted(
                    {f"{c.official.round}/{c.official.file}" for c in self.comparisons}
                ),
                "compared": len(self.comparisons) - len(self.not_in_atlas),
                "agreeing": sum(c.agrees for c in self.comparisons),
                "differing": [c.as_dict() for c in self.differing],
                "not_in_atlas": [c.as_dict() for c in self.not_in_atlas],
            },
        }

    def _round(self, round_: str) -> dict:
        repo = self.repositories[round_]
        counts = Counter(row.benchmark for row in self.rows if row.round == round_)
        return {
            "repository": sources.REPOSITORY.format(round=round_),
            "commit": repo.commit,
            "rows": {b: counts.get(b, 0) for b in BENCHMARKS if counts.get(b, 0)},
            "unread": [u.as_dict() for u in self.unread if u.round == round_],
            "notes": [u.as_dict() for u in self.notes if u.round == round_],
        }


def _round_order(round_: str) -> int:
    return sources.ROUNDS.index(round_) if round_ in sources.ROUNDS else len(sources.ROUNDS)


def build_atlas(
    mirror: Path, workers: int | None = None, progress: Progress | None = None
) -> Build:
    """The atlas of every round's repository found in ``mirror``."""
    found = find_repositories(mirror)
    repos = {r: found[r] for r in sources.ROUNDS if r in found}
    if not repos:
        raise InputError(
            f"{mirror}: no training_results_vX.Y repository of rounds {sources.ROUNDS[0]} to "
            f"{sources.ROUNDS[-1]} in it"
        )
    inputs = [read_round(repo) for repo in repos.values()]
    tasks = {}
    for one in inputs:
        for s in one.sets:
            tasks[f"{s.round}/{s.folder}"] = task_of(s, one.repo)
    workers = workers or len(os.sched_getaffinity(0))
    scores = score_sets(list(tasks.values()), workers, progress)
    return _assemble(inputs, scores, repos, [r for r in sources.ROUNDS if r not in repos])


def _assemble(
    inputs: list[RoundInput],
    scores: dict[str, SetScore],
    repos: dict[str, Repository],
    absent: list[str],
) -> Build:
    rows, unread, notes, officials = [], [], [], []
    for one in inputs:
        unread.extend(one.unread)
        notes.extend(one.notes)
        officials.extend(one.officials)
        for s in one.sets:
            score = scores[f"{s.round}/{s.folder}"]
            if score.problem is not None:
                unread.append(Unread(s.round, s.folder, score.problem))
                continue
            notes.extend(Unread(s.round, s.folder, note) for note in score.notes)
            if score.minutes is None:
                notes.append(Unread(s.round, s.folder, "no result by MLCommons' arithmetic"))
            rows.append(make_row(s, one.systems[s.system_path], score, one.repo.commit))
    rows = sorted_rows(rows)
    return Build(rows, repos, absent, unread, notes, summaries.compare(rows, officials))

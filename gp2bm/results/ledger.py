"""A campaign's trust ledger: what weakens its result without breaking a rule.

run-all writes into each run record how the run was started (its cache drop, whether the
pre-flight ran, the image's pin, the runtime, what relaxes the container's isolation,
gp2bm's version, the node); interrupted attempts are kept beside them. The ledger sums
them up for the campaign, and names each **reservation**: a run without a cache drop, a
run started without the pre-flight, an image not pinned by digest, an image pinned
locally (by its image ID or file hash: no registry holds it), runs interrupted and redone,
logs gp2bm did not run. A result with a reservation is shown as such everywhere
(status, score, the reports, the bundle), and ``gp2bm verify`` calls it verified only when
the evaluator accepts each reservation by name (``--accept NAME``). What relaxes
isolation, the runtimes, the node types and gp2bm's versions are in the ledger too, as
facts, not reservations.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from gp2bm.campaign.layout import CampaignLayout, run_number
from gp2bm.campaign.record import PREFLIGHT_SKIPPED, RunRecord
from gp2bm.campaign.trust import (
    ATTEMPTS,
    CACHE_DROP,
    NOT_RUN,
    PINNED_LOCALLY,
    PREFLIGHT,
    RESERVATIONS,
    UNPINNED,
)
from gp2bm.results.runlog import GP2BM_RUN, Record, iter_records
from gp2bm.results.scoring import SuiteScore
from gp2bm.spec.manifest import PINNED_LOCALLY as PINNED_LOCALLY_STATE
from gp2bm.spec.suite import Suite


@dataclass(frozen=True)
class Reservation:
    name: str  # one of RESERVATIONS
    runs: tuple[str, ...]  # bench/N of each run it concerns
    text: str  # what it is, in one line

    def as_dict(self) -> dict:
        return {"name": self.name, "runs": list(self.runs), "text": self.text}


@dataclass
class Ledger:
    """The campaign's runs as they were started, summed up."""

    runs: int = 0
    cache_drops: dict[str, int] = field(default_factory=dict)  # done / failed / disabled
    preflight: dict[str, int] = field(default_factory=dict)
    pinned: dict[str, int] = field(default_factory=dict)  # by digest / not pinned
    runtimes: list[str] = field(default_factory=list)
    relaxed: list[str] = field(default_factory=list)  # what relaxes isolation, each once
    node_types: int = 0
    gp2bm_versions: list[str] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)  # each attempt: which run, and why
    reservations: list[Reservation] = field(default_factory=list)

    def names(self) -> list[str]:
        return [r.name for r in self.reservations]

    def as_dict(self) -> dict:
        data = asdict(self)
        data["reservations"] = [r.as_dict() for r in self.reservations]
        return data

    def lines(self) -> list[str]:
        """The ledger in words, one line each (reports, README, verify)."""
        out = [
            f"{self.runs} run(s); cache drop: {_counts(self.cache_drops)}; pre-flight: "
            f"{_counts(self.preflight)}; images: {_counts(self.pinned)}",
            f"runtime: {', '.join(self.runtimes) or 'unknown'}; gp2bm "
            f"{', '.join(self.gp2bm_versions) or 'unknown'}; "
            f"{self.node_types or 'unknown'} node type(s)",
            "isolation relaxed: " + (", ".join(self.relaxed) or "nothing"),
        ]
        out += [f"attempt: {a}" for a in self.attempts]
        if not self.reservations:
            return out + ["reservations: none"]
        return out + [f"reservation {r.name}: {r.text}" for r in self.reservations]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items() if n) or "none"


def _add(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def drop_state(record: RunRecord) -> str:
    """A run's cache drop: done, failed, disabled (or not recorded)."""
    drop = record.cache_drop or {}
    if not drop:
        return "not recorded"
    if drop.get("ok"):
        return "done"
    return "disabled" if str(drop.get("method", "")).startswith("disabled") else "failed"


def _pin_state(record: RunRecord) -> str:
    if not record.image and not record.runtime:  # no run record (a log gp2bm did not run)
        return "not recorded"
    if record.runtime == "local":
        return "no image (local runtime)"
    if record.image_pinned_locally:
        return PINNED_LOCALLY_STATE
    return "pinned by digest" if record.image_pinned else "not pinned"


def ran_of(score: SuiteScore) -> dict[str, bool]:
    """Per scored result log (bench/N), whether it carries gp2bm's run line."""
    return {
        f"{name}/{n}": run.log is not None and run.log.trace is not None
        for name, bench in score.benchmarks.items()
        for run in bench.runs
        if (n := run_number(run.file)) is not None
    }


def runs_gp2bm_ran(layout: CampaignLayout, suite: Suite) -> dict[str, bool]:
    """Per result log (bench/N), whether it carries gp2bm's run line."""
    found = {}
    for bench in suite.benchmarks:
        for n in sorted(layout.finished(bench)):
            path = layout.result_path(bench, n)
            found[f"{bench}/{n}"] = any(
                isinstance(rec, Record) and rec.key == GP2BM_RUN for rec in iter_records(path)
            )
    return found


def _reservations(records: dict[str, RunRecord], ran: dict[str, bool], ledger: Ledger) -> None:
    """Each reservation of the runs gp2bm ran (a log it did not run is one reservation of
    its own, whatever its record says)."""

    def runs_where(test) -> tuple[str, ...]:
        return tuple(run for run, rec in records.items() if ran.get(run, True) and test(rec))

    checks = [
        (CACHE_DROP, runs_where(lambda r: drop_state(r) != "done")),
        (PREFLIGHT, runs_where(lambda r: r.preflight in (None, PREFLIGHT_SKIPPED))),
        (UNPINNED, runs_where(lambda r: not (r.image_pinned or r.image_pinned_locally)
                              and r.runtime != "local")),  # fmt: skip
        (PINNED_LOCALLY, runs_where(lambda r: r.image_pinned_locally and r.runtime != "local")),
        (NOT_RUN, tuple(run for run, yes in ran.items() if not yes)),
    ]
    redone = {a.split(":", 1)[0] for a in ledger.attempts}
    redone |= {run for run, rec in records.items() if (rec.earlier_attempts or 0) > 0}
    if redone:
        checks.append((ATTEMPTS, tuple(sorted(redone))))
    for name, runs in checks:
        if runs:
            shown = ", ".join(runs[:6]) + (f" and {len(runs) - 6} more" if len(runs) > 6 else "")
            ledger.reservations.append(Reservation(name, runs, f"{RESERVATIONS[name]}: {shown}"))


def campaign_ledger(
    layout: CampaignLayout, suite: Suite, ran: dict[str, bool] | None = None
) -> Ledger:
    """The ledger of the campaign (or extracted bundle) at ``layout``: its finished runs'
    records and its attempts. ``ran``: per run (bench/N), whether its log carries gp2bm's
    run line, when the logs were parsed already (else they are read here)."""
    ledger = Ledger()
    records: dict[str, RunRecord] = {}
    fingerprints = set()
    for bench in suite.benchmarks:
        for n in sorted(layout.finished(bench)):
            record = RunRecord.load(layout.record_path(bench, n)) or RunRecord(bench, n)
            records[f"{bench}/{n}"] = record
            fingerprints.add(record.node_fingerprint)
        for path in layout.attempt_records(bench):
            attempt = RunRecord.load(path)
            if attempt is not None:
                why = attempt.reason or attempt.status or "interrupted"
                ledger.attempts.append(f"{bench}/{attempt.run}: {why}")
    for record in records.values():
        _add(ledger.cache_drops, drop_state(record))
        _add(ledger.preflight, record.preflight or "not recorded")
        _add(ledger.pinned, _pin_state(record))
        ledger.runtimes += [record.runtime] if record.runtime not in ledger.runtimes else []
        version = record.gp2bm_version
        ledger.gp2bm_versions += (
            [version] if version and version not in ledger.gp2bm_versions else []
        )
        ledger.relaxed += [r for r in record.relaxed if r not in ledger.relaxed]
        if record.privileged and "privileged" not in ledger.relaxed:
            ledger.relaxed.append("privileged")
    ledger.runs = len(records)
    ledger.node_types = len(fingerprints - {None})
    _reservations(records, ran if ran is not None else runs_gp2bm_ran(layout, suite), ledger)
    return ledger

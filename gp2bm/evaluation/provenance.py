"""Where each counted log of a bundle came from: gp2bm's own account of every run, held
against the log, the run record and the campaign (``docs/VERIFY.md``, "Provenance").

A run gp2bm did writes its run line into the log before the workload starts (what runs,
which run of which benchmark of which campaign, with which seed, where) and its closing
line when the process has ended; its record beside it says the same and how it went. Here,
for every result log of the bundle:

* the log carries gp2bm's run line (else it is a log gp2bm did not run: the ledger's
  reservation ``not-run-by-gp2bm``, and none of the checks below apply to it);
* the run line names the log's own run (its file's N), benchmark, seed and campaign;
* its run record is there, read strictly (``campaign.record.read_strict``), and names the
  same run, seed, image, runtime and host, with its start and stop around the log's own;
* the closing line agrees with the record's verdict;
* the runs of each benchmark are numbered 0 to runs - 1, no gap, no extra;
* every record has its log, and every kept attempt has its log and its record.

Each finding is one line naming the file and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gp2bm.campaign.layout import RESULT_GLOB, CampaignLayout, CampaignMeta, run_number
from gp2bm.campaign.record import RunRecord, read_strict
from gp2bm.evaluation.timeline import ORDER_SLACK_MS
from gp2bm.results.runlog import RunLog
from gp2bm.results.timing import observed_number
from gp2bm.spec.suite import Suite

# What the run line says, and the record field (or campaign.json field) it must equal.
TRACE_VS_RECORD = (
    ("seed", "seed"),
    ("image", "image"),
    ("image_id", "image_id"),
    ("runtime", "runtime"),
    ("host", "host"),
    ("gp2bm_version", "gp2bm_version"),
    ("earlier_attempts", "earlier_attempts"),
)
CAMPAIGN_KEYS = ("org", "system", "suite", "created")


@dataclass
class Provenance:
    """What the provenance checks found, and the runs gp2bm did not run."""

    findings: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)  # bench/N of logs without a run line
    records: dict[str, RunRecord] = field(default_factory=dict)  # bench/N -> strict record


def _ms(stamp: str | None) -> int | None:
    if not stamp:
        return None
    try:
        return int(datetime.fromisoformat(stamp).timestamp() * 1000)
    except ValueError:
        return None


def _trace_findings(where: str, trace: dict, bench: str, n: int, meta: CampaignMeta) -> list[str]:
    found = []
    if trace.get("run") != n:
        found.append(
            f"{where}: gp2bm's run line names run {trace.get('run')!r}, the file is run {n} "
            "(rule: a log is the run its name says)"
        )
    if trace.get("benchmark") != bench:
        found.append(
            f"{where}: gp2bm's run line names benchmark {str(trace.get('benchmark'))[:40]!r} "
            f"(rule: a log lies in its benchmark's folder)"
        )
    named = trace.get("campaign")
    campaign: dict = named if isinstance(named, dict) else {}
    expected = {
        "org": meta.org,
        "system": meta.system,
        "suite": meta.suite,
        "created": meta.created,
    }
    for key in CAMPAIGN_KEYS:
        if campaign.get(key) != expected[key]:
            found.append(
                f"{where}: gp2bm's run line names campaign {key} "
                f"{str(campaign.get(key))[:60]!r}, campaign.json {expected[key][:60]!r} "
                "(rule: every run is of this campaign)"
            )
    return found


def _record_findings(
    where: str, rec_where: str, record: RunRecord, trace: dict, line: RunLog, log_seed: int | None
) -> list[str]:
    found = []
    for ours, theirs in TRACE_VS_RECORD:
        if trace.get(ours) != getattr(record, theirs):
            found.append(
                f"{rec_where}: {theirs} {str(getattr(record, theirs))[:60]!r}, the log's run "
                f"line {str(trace.get(ours))[:60]!r} (rule: the record is the log's run)"
            )
    if log_seed is not None and record.seed != log_seed:
        found.append(f"{rec_where}: seed {record.seed!r}, the log's seed line {log_seed!r}")
    start, stop = _ms(record.start), _ms(record.stop)
    if start is None or stop is None:
        found.append(f"{rec_where}: start or stop is not a time (rule: the record times the run)")
    elif line.start_ms is not None and line.stop_ms is not None:
        if line.start_ms < start - ORDER_SLACK_MS or line.stop_ms > stop + ORDER_SLACK_MS:
            found.append(
                f"{where}: run_start..run_stop lies outside the run's own start and stop in "
                f"{rec_where} (rule: the timed window is inside the run)"
            )
    end = line.end
    if end is None:
        found.append(f"{where}: no closing line of gp2bm (rule: gp2bm saw the run end)")
    elif end.get("status") != record.status or end.get("exit_code") != record.exit_code:
        found.append(
            f"{where}: gp2bm's closing line says {end.get('status')!r} (exit "
            f"{end.get('exit_code')!r}), {rec_where} {record.status!r} (exit "
            f"{record.exit_code!r}) (rule: the record is the log's verdict)"
        )
    else:
        found += _closing_timings(where, rec_where, end, record)
    return found


def _closing_timings(where: str, rec_where: str, end: dict, record: RunRecord) -> list[str]:
    """The closing line's timings of the run are the record's (gp2bm wrote both at once)."""
    found = []
    for key in ("seconds", "observed_seconds"):
        said, kept = observed_number(end.get(key)), observed_number(getattr(record, key))
        if said != kept and (said is None or kept is None or abs(said - kept) > 1e-6):
            found.append(
                f"{where}: gp2bm's closing line times the run {key} {end.get(key)!r}, "
                f"{rec_where} {getattr(record, key)!r} (rule: the record is the log's verdict)"
            )
    return found


def check_run(
    layout: CampaignLayout, meta: CampaignMeta, bench: str, n: int, line: RunLog
) -> tuple[list[str], RunRecord | None]:
    """One log gp2bm ran: its run line, its record, its closing line."""
    where = layout.relative(layout.result_path(bench, n))
    rec_where = layout.relative(layout.record_path(bench, n))
    trace = line.trace
    if not isinstance(trace, dict):
        return [f"{where}: gp2bm's run line is not an object (rule: gp2bm's run line)"], None
    found = _trace_findings(where, trace, bench, n, meta)
    if not layout.record_path(bench, n).is_file():
        return found + [f"{rec_where}: missing (rule: every run has its record)"], None
    record, problems = read_strict(layout.record_path(bench, n), rec_where)
    found += problems
    if record is None or problems:
        return found, None
    if record.benchmark != bench or record.run != n:
        found.append(
            f"{rec_where}: names {record.benchmark} run {record.run}, lies beside {bench} run "
            f"{n} (rule: the record is the log's run)"
        )
    if record.log != layout.relative(layout.result_path(bench, n)):
        found.append(f"{rec_where}: log {record.log[:80]!r} is not {where}")
    return found + _record_findings(where, rec_where, record, trace, line, line.seed), record


def numbering(layout: CampaignLayout, suite: Suite) -> list[str]:
    """The runs of each benchmark are result_0 .. result_(runs-1): no gap, no extra, and
    no result log named otherwise."""
    found = []
    for bench, spec in suite.benchmarks.items():
        folder = layout.benchmark_dir(bench)
        have = layout.finished(bench)
        want = set(range(spec.runs))
        where = layout.relative(folder)
        if have - want:
            found.append(
                f"{where}: runs {sorted(have - want)} beyond the suite's {spec.runs} (rule: "
                "the runs are numbered 0 to runs - 1)"
            )
        if want - have and have:
            found.append(
                f"{where}: runs {sorted(want - have)} missing (rule: the runs are numbered 0 "
                "to runs - 1)"
            )
        odd = [p.name for p in folder.glob(RESULT_GLOB)] if folder.is_dir() else []
        odd = [name for name in odd if run_number(name) is None]
        if odd:
            found.append(f"{where}: result logs not named result_N.txt: {', '.join(sorted(odd))}")
    return found


def accounted(layout: CampaignLayout, suite: Suite) -> list[str]:
    """Every record has its log; every kept attempt has its log and its record."""
    found = []
    for bench in suite.benchmarks:
        for n, path in layout.record_files(bench).items():
            if not layout.result_path(bench, n).exists():
                found.append(
                    f"{layout.relative(path)}: a record without its log (rule: records and "
                    "logs account for every run)"
                )
                continue
            record = RunRecord.load(path)
            earlier = record.earlier_attempts if record else 0
            kept = layout.attempt_count(bench, n)
            if isinstance(earlier, int) and earlier > kept:
                found.append(
                    f"{layout.relative(path)}: the run redid {earlier} earlier attempt(s), "
                    f"the bundle keeps {kept} (rule: every attempt is accounted for)"
                )
        for path in layout.attempt_records(bench):
            attempt = RunRecord.load(path)
            log = layout.root / attempt.attempt_log if attempt and attempt.attempt_log else None
            if (
                log is None
                or not log.is_file()
                or not log.resolve().is_relative_to(layout.root.resolve())
            ):
                found.append(
                    f"{layout.relative(path)}: the attempt's log is not in the bundle (rule: "
                    "every attempt is accounted for)"
                )
        logs = layout.attempt_logs(bench)
        named = {
            (RunRecord.load(p) or RunRecord(bench, -1)).attempt_log
            for p in layout.attempt_records(bench)
        }
        for log in logs:
            if layout.relative(log) not in named:
                found.append(
                    f"{layout.relative(log)}: an attempt's log without its record (rule: every "
                    "attempt is accounted for)"
                )
    return found

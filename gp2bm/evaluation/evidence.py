"""verify's cross-checks and the ledger's reservations, over a bundle read as a campaign.

For every counted log: gp2bm's own account of the run (``provenance``) and the log's own
timeline (``timeline``); across the logs of each benchmark, copies; across the bundle, the
numbering of the runs, the attempts, the hardware (``hardware``); and the trust ledger
(``results.ledger``), whose reservations the evaluator may accept by name. Logs gp2bm did
not run are held to none of the gp2bm checks: they are the reservation
``not-run-by-gp2bm``, labelled as such wherever the verdict shows them.
"""

from __future__ import annotations

from gp2bm.campaign.trust import NOT_RUN
from gp2bm.evaluation import provenance, timeline
from gp2bm.evaluation.hardware import INVENTORY_FILE, check_hardware, vendor_words
from gp2bm.evaluation.verification import Verification
from gp2bm.reports.view import CampaignView, RunView
from gp2bm.results.timing import observed_number


def _run_findings(view: CampaignView, bench: str, run: RunView) -> list[str]:
    """Every cross-check of one log gp2bm ran."""
    log, n = run.score.log, run.index
    if log is None or n is None:
        return []
    layout, meta = view.layout, view.meta
    where = layout.relative(layout.result_path(bench, n))
    found, record = provenance.check_run(layout, meta, bench, n, log)
    target = view.suite.benchmarks[bench].target
    found += timeline.order_findings(log, where, target)
    found += timeline.gp2bm_line_findings(log, where)
    # the time to train against gp2bm's timings of the run: its closing line's in the log,
    # then its record's where they differ (provenance names that they differ)
    timings = {
        (observed_number(log.end.get("observed_seconds")), observed_number(log.end.get("seconds")))
    } if log.end else set()  # fmt: skip
    if record is not None:
        timings.add((observed_number(record.observed_seconds), observed_number(record.seconds)))
    for observed, seconds in sorted(timings, key=str):
        found += timeline.timing_findings(log, where, observed, seconds)
    return found


def _any_run_by_gp2bm(view: CampaignView) -> bool:
    return any(
        run.score.log is not None and run.score.log.trace is not None
        for runs in view.runs.values()
        for run in runs
    )


def cross_check(view: CampaignView, result: Verification) -> None:
    """The cross-checks of every log gp2bm ran, and of the bundle."""
    for bench, runs in view.runs.items():
        ran = []
        for run in runs:
            log = run.score.log
            if log is None or log.trace is None:  # a log gp2bm did not run: the ledger's
                continue
            result.contradictions += _run_findings(view, bench, run)
            ran.append((view.relative(log.path), log))
        result.contradictions += timeline.copies(ran)
    result.contradictions += provenance.numbering(view.layout, view.suite)
    result.contradictions += provenance.accounted(view.layout, view.suite)
    hardware = check_hardware(view)
    if view.inventory is None and not _any_run_by_gp2bm(view):
        # logs gp2bm did not run (imported, published) come without gp2bm's inventory:
        # their reservation, not-run-by-gp2bm, says so; nothing is cross-checked instead
        missing = [f for f in hardware if f.startswith(f"{INVENTORY_FILE}: missing")]
        hardware = [f for f in hardware if f not in missing]
        result.unverifiable += [
            f"{INVENTORY_FILE}: missing, as for logs gp2bm did not run (reservation "
            f"{NOT_RUN}): the system description is the vendor's word alone"
        ] if missing else []
    result.contradictions += hardware
    words = vendor_words(view)
    if words is not None:
        result.unverifiable.append(words)


def reserve(view: CampaignView, result: Verification) -> None:
    """The trust ledger of the bundle, and each of its reservations (accepted or not)."""
    ledger = view.ledger
    result.ledger = ledger.as_dict()
    result.ledger_lines = ledger.lines()
    for r in ledger.reservations:
        result.reserve(r.name, r.text, list(r.runs))

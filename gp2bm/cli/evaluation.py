"""gp2bm verify, gp2bm compare and gp2bm accept: the evaluator's and the buyer's commands
(wiring: parse, call, render)."""

from __future__ import annotations

import json
import shlex

from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import (
    AcceptanceCampaignArg,
    AcceptDifferenceOpt,
    AcceptOpt,
    BundleArg,
    BundlesArg,
    CompareSuiteOpt,
    CompareXlsxOpt,
    CsvOpt,
    HtmlOpt,
    JsonOpt,
    OwnSuiteOpt,
    OwnTemplateOpt,
    ToleranceOpt,
)
from gp2bm.evaluation.accept import accept_campaign
from gp2bm.evaluation.compare import compare_bundles
from gp2bm.evaluation.verify import verify_bundle
from gp2bm.handin.scratch import stop_on_sigterm
from gp2bm.reports.acceptance import acceptance_lines, write_acceptance_html
from gp2bm.reports.comparison import comparison_lines
from gp2bm.reports.terminal import print_plain, print_verification
from gp2bm.reports.workprogress import WorkProgress
from gp2bm.reports.writer import write_comparison_reports


@app.command()
def verify(
    bundle: BundleArg,
    suite: OwnSuiteOpt = None,
    accept: AcceptOpt = None,
    template: OwnTemplateOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a hand-in bundle: what it proves, by your rules, trusting nothing it says.

    Recomputed from the raw logs, by the reference rules (your --suite file, else gp2bm's
    own suite): SHA256SUMS, each run's time to train, the olympic means, the scaling, the
    score, MLCommons' compliance, seed, RCP and package checks, and every number of every
    claim and report. Cross-checked: each log against its run record, gp2bm's own lines
    in it and the campaign; its timeline; the numbering of the runs and the attempts; the
    system description against the inventory and the records. Reservations (the trust
    ledger: a run without a cache drop or the pre-flight, an unpinned image, runs redone,
    logs gp2bm did not run) are named, and verified only when you --accept them. Not
    provable from any bundle: that the runs happened on the hardware claimed (only a re-run
    can show it). docs/VERIFY.md says it all.

    Exit 0 only when nothing differs, contradicts or is reserved unaccepted and the bundle
    is valid; 1 with each finding and its class otherwise (or for an unsafe archive member,
    or a bundle past the size limits); 2 when the file is not a readable bundle or an
    option is wrong; 130 when stopped (Ctrl-C, SIGTERM).
    """
    with stop_on_sigterm("gp2bm verify"), WorkProgress(err, "verify") as work:
        result = verify_bundle(bundle, suite, frozenset(accept or []), template)
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print_verification(result.as_dict(), out)
    failure = result.failure()
    if failure is not None:
        raise failure
    print_plain(
        err,
        f"verified in {work.elapsed:.1f} s; done: {shlex.quote(str(bundle))} is ready to hand in",
    )


def _say(text: str) -> None:
    print_plain(err, text)


def _answer(data: dict, lines: list[str], as_json: bool, failure: Exception | None) -> None:
    """The answer on stdout (one JSON object, or its lines as plain text), then the failure
    it exits with, if any."""
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        for line in lines:
            print_plain(out, line)
    if failure is not None:
        raise failure


@app.command("compare")
def compare_command(
    bundles: BundlesArg,
    suite: CompareSuiteOpt = None,
    accept: AcceptOpt = None,
    template: OwnTemplateOpt = None,
    html: HtmlOpt = None,
    xlsx: CompareXlsxOpt = None,
    csv: CsvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compare several vendors' bundles: each verified by your rules, the verified ones ranked.

    Every bundle is verified as gp2bm verify does it, by one reference suite (your --suite
    file, else gp2bm's GP2BM suite, for every bundle alike), in parallel up to the cores.
    The bundles that verify are ranked by the RFP score, each with its vendor, system,
    accelerators, nodes, each benchmark's result in minutes and seconds with its 95 %
    interval and the runs' range, the reservations you accepted, and the published results'
    verdict (gp2bm atlas). A bundle that does not verify is set apart, never ranked, with
    its first findings; two bundles of the same vendor and system are both shown and
    flagged. Every run of every bundle is listed. --html, --xlsx, --csv write the same
    comparison as a page, a workbook and one CSV row per bundle.

    Exit 0 when every bundle verifies; 1 when one does not (the comparison is still shown
    and written); 2 for a missing bundle, a bad suite file or option; 130 when stopped.
    """
    work = WorkProgress(err, "compare")
    with stop_on_sigterm("gp2bm compare"):
        comparison = compare_bundles(bundles, suite, frozenset(accept or []), work, template)
    data = comparison.as_dict()
    for _, path in write_comparison_reports(data, csv, xlsx, html):
        _say(f"wrote {path}")
    _answer(data, comparison_lines(data), as_json, comparison.failure())
    _say(
        f"compared {data['compared']} bundle(s) in {work.elapsed:.1f} s; done: every bundle "
        "verified, the ranking stands"
    )


@app.command("accept")
def accept_command(
    bundle: BundleArg,
    campaign: AcceptanceCampaignArg,
    suite: OwnSuiteOpt = None,
    tolerance: ToleranceOpt = None,
    accept: AcceptDifferenceOpt = None,
    html: HtmlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The buyer's acceptance check: hold a campaign re-run on the delivered system to the
    committed bundle (the vendor's hand-in).

    The committed bundle is verified first, by your rules (--suite, else gp2bm's suite of
    its name); the acceptance campaign is scored under the same rules. Compared, and said
    in words: the rules, the images (image IDs), the implementation source (every file by
    SHA-256, staged as package stages it), the hardware (accelerator model, count and
    memory, driver, CPU, memory, nodes), and each benchmark's result against the committed
    one with both 95 % intervals. A benchmark passes when it is no slower than committed by
    more than the tolerance (--tolerance, else the larger of MLPerf's stated variance and
    the committed interval's reach). Only a re-run shows that the committed results came
    from the hardware delivered: this is that re-run's check.

    Exit 0 when every benchmark passes and nothing differs that you did not --accept; 1
    naming each failing benchmark (with the percentage) and each difference; 2 for an
    unreadable bundle, campaign or option.
    """
    with stop_on_sigterm("gp2bm accept"), WorkProgress(err, "accept") as work:
        result = accept_campaign(bundle, campaign, suite, tolerance, frozenset(accept or []))
    data = result.as_dict()
    if html is not None:
        _say(f"wrote {write_acceptance_html(data, html)}")
    _answer(data, acceptance_lines(data), as_json, result.failure())
    _say(
        f"accepted in {work.elapsed:.1f} s; done: {shlex.quote(str(campaign))} holds the "
        "committed result"
    )

"""gp2bm verify and gp2bm accept: the evaluator's and the buyer's commands (wiring: parse,
call, render)."""

from __future__ import annotations

import json
import shlex

from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import (
    AcceptanceCampaignArg,
    AcceptDifferenceOpt,
    AcceptOpt,
    BundleArg,
    HtmlOpt,
    JsonOpt,
    OwnSuiteOpt,
    ToleranceOpt,
)
from gp2bm.evaluation.accept import accept_campaign
from gp2bm.evaluation.verify import verify_bundle
from gp2bm.handin.scratch import stop_on_sigterm
from gp2bm.reports.acceptance import acceptance_lines, write_acceptance_html
from gp2bm.reports.terminal import print_plain, print_verification
from gp2bm.reports.workprogress import WorkProgress


@app.command()
def verify(
    bundle: BundleArg,
    suite: OwnSuiteOpt = None,
    accept: AcceptOpt = None,
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
        result = verify_bundle(bundle, suite, frozenset(accept or []))
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
        written = write_acceptance_html(data, html)
        print_plain(err, f"wrote {written}")
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        for line in acceptance_lines(data):
            print_plain(out, line)
    failure = result.failure()
    if failure is not None:
        raise failure
    print_plain(
        err,
        f"accepted in {work.elapsed:.1f} s; done: {shlex.quote(str(campaign))} holds the "
        "committed result",
    )

"""gp2bm score."""

from __future__ import annotations

import json
import shlex

import typer

from gp2bm.campaign.layout import CampaignLayout
from gp2bm.campaign.resolve import resolve_suite
from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import ComplianceOpt, JsonOpt, PathsArg, RcpOpt, RulesetOpt, SuiteOpt
from gp2bm.reports.terminal import print_ledger, print_plain, render_score
from gp2bm.reports.workprogress import WorkProgress
from gp2bm.results.ledger import campaign_ledger, ran_of
from gp2bm.results.resultset import campaign_of, score_paths
from gp2bm.results.scoring import RcpMode

EXIT_CONTRACT = (
    "Exit 0 when the suite score is computed (every benchmark of the suite present and "
    "valid); 1 when a benchmark found is invalid or a benchmark of the suite is missing (the "
    'result is printed all the same, with "score": null and the "missing" benchmarks); '
    "2 for bad input (a one-line error naming the file)."
)


@app.command(
    help="Score MLPerf result logs: per-run minutes, olympic mean, scaling and the RFP score."
    f"\n\n{EXIT_CONTRACT}",
    short_help="Score MLPerf result logs.",
)
def score(
    paths: PathsArg,
    ruleset: RulesetOpt = None,
    compliance: ComplianceOpt = None,
    rcp: RcpOpt = False,
    suite: SuiteOpt = None,
    as_json: JsonOpt = False,
) -> None:
    campaign = campaign_of(paths)
    the_suite = resolve_suite(suite, campaign)
    with WorkProgress(err, "score") as work:
        result = score_paths(
            paths,
            the_suite,
            ruleset=ruleset,
            compliance=compliance,
            rcp=RcpMode.FACTOR if rcp else None,
            progress=work,
        )
    ledger = None
    if campaign is not None:
        ledger = campaign_ledger(CampaignLayout.read(campaign), the_suite, ran_of(result))
    if as_json:
        data = result.as_dict()
        if ledger is not None:
            data["ledger"] = ledger.as_dict()
        print(json.dumps(data, indent=2))
    else:
        out.print(render_score(result))
        if ledger is not None:
            print_ledger(ledger, out)
    after = f"scored in {work.elapsed:.1f} s"
    if campaign is not None:
        where = shlex.quote(str(campaign))
        after += f"; next: gp2bm report {where}" if result.valid else f"; see gp2bm status {where}"
    print_plain(err, after)
    raise typer.Exit(0 if result.valid else 1)

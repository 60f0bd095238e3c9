"""gp2bm atlas, gp2bm expect: the published MLPerf Training ResNet and BERT results."""

from __future__ import annotations

import json

import typer

from gp2bm.atlas import expect as expect_campaign
from gp2bm.atlas import load_atlas
from gp2bm.atlas.expectation import RULE
from gp2bm.atlas.overheads import campaign_overheads
from gp2bm.campaign.resolve import resolve_suite
from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import (
    AcceleratorOpt,
    AtlasBenchmarkOpt,
    AtlasNodesOpt,
    CountOpt,
    CsvFlagOpt,
    DivisionOpt,
    ExpectNodesOpt,
    ExpectRoundOpt,
    JsonOpt,
    OverheadsFromOpt,
    RequiredAcceleratorOpt,
    RequiredCountOpt,
    RoundOpt,
    SuiteOpt,
)
from gp2bm.errors import InputError
from gp2bm.reports.atlas_text import atlas_csv, atlas_table, expectation_view


def _round(name: str | None, rounds: list[str]) -> str | None:
    if name is None:
        return None
    wanted = name if name.startswith("v") else f"v{name}"
    if wanted not in rounds:
        raise InputError(f"--round {name}: the atlas has rounds {', '.join(rounds)}")
    return wanted


@app.command(
    help="Browse the published MLPerf Training ResNet-50 and BERT results (rounds v0.7 to "
    "v5.0, closed and open divisions), each scored by gp2bm as MLCommons publishes it: one "
    "row per round, submitter, system and benchmark. Filters combine; --csv and --json print "
    "every column.",
    short_help="Browse the published ResNet and BERT results.",
)
def atlas(
    benchmark: AtlasBenchmarkOpt = None,
    accelerator: AcceleratorOpt = None,
    count: CountOpt = None,
    nodes: AtlasNodesOpt = None,
    round_: RoundOpt = None,
    division: DivisionOpt = None,
    as_csv: CsvFlagOpt = False,
    as_json: JsonOpt = False,
):
    if as_csv and as_json:
        raise InputError("give --csv or --json, not both")
    the_atlas = load_atlas()
    rows = the_atlas.rows(
        benchmark=benchmark.value if benchmark else None,
        accelerator=accelerator,
        count=count,
        nodes=nodes,
        round=_round(round_, the_atlas.rounds),
        division=division.value if division else None,
    )
    if accelerator and not rows:
        the_atlas.one_accelerator(accelerator)
    if as_json:
        print(json.dumps({"count": len(rows), "rows": [r.as_dict() for r in rows]}, indent=2))
    elif as_csv:
        print(atlas_csv(rows), end="")
    else:
        out.print(atlas_table(rows, f"{len(rows)} published result set(s)"))


@app.command(
    help="What the published results say a campaign will give: for each benchmark of the "
    "suite, the expected minutes and their range, the results they rest on (round, "
    "software), the expected RFP score and the campaign's node time. The rule: "
    f"{RULE}.\n\nExit 0 when every benchmark has an expectation, 1 when one cannot be told, "
    "2 for bad input (a name several published accelerators share, such as H100: give one).",
    short_help="Expect a campaign's results from the published ones.",
)
def expect(
    accelerator: RequiredAcceleratorOpt,
    count: RequiredCountOpt,
    nodes: ExpectNodesOpt = None,
    round_: ExpectRoundOpt = None,
    suite: SuiteOpt = None,
    overheads_from: OverheadsFromOpt = None,
    as_json: JsonOpt = False,
):
    the_suite = resolve_suite(suite)
    the_atlas = load_atlas()
    the_atlas.one_accelerator(accelerator)
    overheads = None if overheads_from is None else campaign_overheads(overheads_from)
    found = expect_campaign(
        the_atlas,
        accelerator,
        count,
        nodes if nodes is not None else the_suite.nodes,
        the_suite,
        _round(round_, the_atlas.rounds),
        overheads,
    )
    if as_json:
        print(json.dumps(found.as_dict(), indent=2))
    else:
        out.print(expectation_view(found, the_suite.formula_text()))
    if not found.complete:
        err.print("gp2bm: cannot tell every benchmark of the suite", markup=False)
    raise typer.Exit(0 if found.complete else 1)

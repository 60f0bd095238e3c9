"""The bundle's README for the evaluator: one function per section.

The README is rendered from the bundle's own view, its gp2bm-bundle.json and the package
checker's verdict only, so that ``gp2bm verify`` renders it again from the bundled logs and
compares it character for character.
"""

from __future__ import annotations

from gp2bm.campaign.layout import (
    BUNDLE_FILE,
    CHANGES,
    CHECKS,
    CLAIMS_FILE,
    INVENTORY_FILE,
    MANIFESTS,
    PARAMS_FILE,
    RECORDS,
    REPORTS,
    SUMS_FILE,
)
from gp2bm.handin.format import RCP_BYPASS
from gp2bm.handin.package_check import PackageCheck
from gp2bm.reports.official import factor_text, score_spread_text
from gp2bm.reports.view import CampaignView
from gp2bm.results.spread import METHOD, SCORE_RULE, STATED_SOURCE


def _title(view: CampaignView, meta: dict) -> list[str]:
    score = view.score
    suite = score.suite
    return [
        f"# MLPerf Training hand-in: {suite.title or suite.name}",
        "",
        f"Submitter **{view.org}**, system **{view.system}**, {suite.nodes} node(s), MLPerf "
        f"Training ruleset {score.ruleset}; bundle made {meta['created']} by gp2bm "
        f"{meta['gp2bm_version']}.",
        "",
    ]


def _result(view: CampaignView) -> list[str]:
    score = view.score
    suite = score.suite
    lines = [
        "## Result",
        "",
        "| benchmark | result (minutes) | result (seconds) | olympic mean, unscaled (minutes) "
        "| scaling | valid | runs | 95 % interval (minutes) | MLPerf stated variance |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    why = []
    for name in suite.benchmarks:
        b = score.benchmarks.get(name)
        if b is None:
            lines.append(f"| {name} | - | - | - | - | no results | 0 | - | - |")
            continue
        m = "-" if b.minutes is None else f"{b.minutes:.6f}"
        s = "-" if b.minutes is None else f"{b.minutes * 60:.3f}"
        mean = "-" if b.mean is None else f"{b.mean:.6f}"
        stated = f"+/-{b.stated_variance.fraction * 100:g} % ({b.stated_variance.area})"
        lines.append(
            f"| {name} | {m} | {s} | {mean} | {factor_text(b)} | {'yes' if b.valid else 'NO'} "
            f"| {len(b.runs)} | {b.interval.text()} | {stated} |"
        )
        why.append(f"- {name}: {b.scaling_reason}")
    shown = (
        "none (not every benchmark has a valid result)"
        if score.score is None
        else (f"**{score.score:.6f}**")
    )
    return lines + [
        "",
        "The result is the olympic mean times the scaling factor, the number MLCommons' "
        "tools publish; why each factor is what it is:",
        "",
        *why,
        "",
        f"Score ({suite.formula_text()}, each term weight / result in minutes): {shown}.",
        "",
        *_spread(view),
    ]


def _spread(view: CampaignView) -> list[str]:
    """How far the results could move: the method of the intervals, the score's."""
    score_line = score_spread_text(view.score)
    lines = [f"Interval: {METHOD}. Stated variance: {STATED_SOURCE}.", ""]
    if score_line is not None:
        lines += [f"The score's {score_line}. The score's interval: {SCORE_RULE}.", ""]
    return lines


def _contents(view: CampaignView, meta: dict, present: set[str]) -> list[str]:
    """What is where in the bundle; records/ and inventory.json only when there."""
    layout = view.layout
    logs = layout.relative(layout.result_path("<benchmark>", "N"))
    source = layout.relative(layout.implementation_dir("<benchmark>", "<name>"))
    lines = [
        "## What is here",
        "",
        "| path | what |",
        "|---|---|",
        f"| `{logs}` | the MLPerf result logs, byte for byte as the runs wrote them |",
        f"| `{layout.relative(layout.system_file)}` | the MLPerf system description |",
        f"| `{source}/` | the implementation source that ran (see below) |",
        f"| `{CHANGES}/` | diffs against the upstream implementation, the description of "
        "changes |",
        f"| `{MANIFESTS}/` | the suite and benchmark manifests; `images.json`: images and "
        "digests |",
    ]
    if RECORDS in present:
        lines.append(
            f"| `{RECORDS}/` | one record per run (seed, image id, cache drop, start, stop, exit "
            "code), its telemetry when sampled, interrupted attempts |"
        )
    if INVENTORY_FILE in present:
        lines.append(f"| `{INVENTORY_FILE}` | the hardware and software inventory of the node |")
    # a report's path under reports/ (the RFP template lies in template/)
    reports = ", ".join(f"`{str(r).removeprefix(f'{REPORTS}/')}`" for r in meta["reports"])
    return lines + [
        f"| `{REPORTS}/` | {reports} (the HTML page works offline) |",
        f"| `{CHECKS}/` | MLCommons' package checker output on this tree |",
        *_tool_row(meta),
        f"| `{CLAIMS_FILE}` | what `gp2bm score --json` computes from these logs |",
        f"| `{BUNDLE_FILE}` | how this bundle was made |",
        f"| `{SUMS_FILE}` | SHA-256 of every other file |",
        "",
    ]


def _sources(meta: dict) -> list[str]:
    lines = ["## Implementation source", ""]
    for bench, info in meta["implementations"].items():
        lines.append(f"- **{bench}** ({info['path']}): {info['origin']}")
    return lines + [""]


def _tool_row(meta: dict) -> list[str]:
    wheel = meta.get("gp2bm_wheel") or {}
    if not wheel.get("path"):
        return []
    return [f"| `{wheel['path']}` | the gp2bm that wrote this bundle, as a wheel (sha256 "
            f"`{wheel.get('sha256')}`) |"]  # fmt: skip


def _get_gp2bm(meta: dict) -> list[str]:
    """How the evaluator gets the gp2bm that wrote the bundle (or a newer one)."""
    wheel = meta.get("gp2bm_wheel") or {}
    if not wheel.get("path"):
        return []
    return [
        f"0. gp2bm {meta.get('gp2bm_version') or ''} wrote this bundle; its wheel is "
        f"`{wheel['path']}` (`sha256sum {wheel['path']}` gives `{wheel.get('sha256')}`). "
        "Install it in a virtual environment of its own (Python 3.11 or newer): `python3 -m "
        f"venv gp2bm-env && gp2bm-env/bin/pip install {wheel['path']}`, then run "
        "`gp2bm-env/bin/gp2bm`; its source is in the wheel (a zip). A gp2bm of your own "
        "verifies the bundle just as well: the rules, not the tool, decide.",
    ]


def _how_to_verify(view: CampaignView, check: PackageCheck, meta: dict) -> list[str]:
    lines = [
        "## How to verify",
        "",
        *_get_gp2bm(meta),
        "1. `sha256sum -c SHA256SUMS` in this folder: nothing was changed after packaging.",
        "2. `gp2bm verify BUNDLE.tar.gz --suite FILE`, FILE your own copy of the RFP's suite "
        "file (its rules are what counts: its name and manifests do not matter; without "
        "`--suite`, gp2bm's built-in suite of this bundle's suite's name, else the GP2BM "
        "suite). It recomputes every number from the raw logs by those rules (times, olympic "
        "means, scaling, the score, MLCommons' compliance, seed and RCP checks and its package "
        "checker, every claim and report), cross-checks each log against its run record, "
        "gp2bm's own lines in it, the attempts and the hardware, and names each reservation of "
        "the trust ledger below, verified only when you accept it (`--accept NAME`). What it "
        "proves, and what no bundle can (that the runs happened on the hardware claimed: only "
        "a re-run can), is gp2bm's docs/VERIFY.md.",
        f"3. With MLCommons' tools alone: `python3 -m mlperf_logging.package_checker {view.org} "
        f"training {view.score.ruleset}` (on a copy: it rewrites `scaling.json` files).",
        "",
        "Result arithmetic: a run's time is (run_stop - run_start) / 60000 minutes; the "
        "olympic mean drops the fastest and the slowest run (a failed run takes the place of "
        "the slowest); seconds = 60 x minutes.",
        "",
        f"MLCommons' package checker on this tree: **{'passed' if check.passed else 'FAILED'}**"
        + ("" if check.ran else f" (not run: {check.reason})")
        + ".",
    ]
    return lines + [f"- {e}" for e in check.errors[:20]]


def _ledger(view: CampaignView) -> list[str]:
    """The trust ledger: how the runs were started, and each reservation."""
    return ["", "## Trust ledger", ""] + [f"- {line}" for line in view.ledger.lines()]


def _rcp_bypass(view: CampaignView, bypass: list[str]) -> list[str]:
    if not bypass:
        return []
    lines = [
        "",
        "## RCP bypass",
        "",
        f"The suite `{view.score.suite.name}` turns the reference-convergence-point (RCP) "
        "check off (`checks.rcp: false`): its workloads are not the reference models, so their "
        "convergence cannot match MLCommons' RCPs. For the benchmarks below, whose RCP "
        f"check fails, the result folder holds a `{PARAMS_FILE}` file with the line "
        f"`{RCP_BYPASS}`: the package checker's documented per-benchmark bypass (the same "
        "as its `--rcp-bypass` option, limited to that folder). In an MLPerf submission "
        "a bypassed RCP is reviewed by the submission committee.",
        "",
    ]
    return lines + [f"- {b}" for b in bypass]


def _listed(title: str, items: list[str]) -> list[str]:
    if not items:
        return []
    return ["", f"## {title}", ""] + [f"- {x}" for x in items]


def render_readme(
    view: CampaignView, meta: dict, check: PackageCheck, bypass: list[str], present: set[str]
) -> str:
    """README.md from the bundle's own view and meta (gp2bm-bundle.json) and the package
    checker's verdict; ``present`` names the bundle's top-level entries."""
    lines = [
        *_title(view, meta),
        *_result(view),
        *_contents(view, meta, present),
        *_sources(meta),
        *_how_to_verify(view, check, meta),
        *_ledger(view),
        *_rcp_bypass(view, bypass),
        *_listed("Incomplete", meta["incomplete"]),
        *_listed("Notes", meta["notes"]),
    ]
    return "\n".join(lines) + "\n"

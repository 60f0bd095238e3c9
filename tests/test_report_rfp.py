"""Filling the MLPerf tab of the RFP's own workbook (../shared/fixtures/rfp)."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from synth import BERT_MINUTES, write_run
from test_report_campaign import (
    ORG,
    RFP_WORKBOOK,
    SYSTEM,
    copy_campaign,
    synthetic_campaign,
    system_description,
    unfilled_smoke_campaign,
)

from gp2bm.atlas import load_atlas
from gp2bm.atlas.expectation import expect_benchmark
from gp2bm.evaluation.claimcheck import COUNT_FIELDS
from gp2bm.node.systemdesc import detected_fields
from gp2bm.reports.view import load_campaign

SHEETS = ["HPCG", "QE", "NAMD - CPU", "NAMD - GPU", "SPEChpc", "GROMACS", "MLPerf", "HPL", "IOR"]
# The answer cells of the real form (found by their labels; checked here by coordinate).
TEST_CELLS = {"C7", "C8", "C9", "C10", "C11", "C15", "C16", "C17", "B23"}
PROPOSED_CELLS = {"D7", "D8", "D9"}
CHANGES = "Tuned the data loader (see changes/resnet.diff).\nNo other change."


@pytest.fixture
def template() -> Path:
    if not RFP_WORKBOOK.is_file():
        pytest.skip(f"the RFP workbook is not available: {RFP_WORKBOOK} is absent")
    return RFP_WORKBOOK


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _style(cell) -> tuple:
    return (
        cell.number_format,
        repr(cell.font),
        repr(cell.fill),
        repr(cell.border),
        repr(cell.protection),
    )


def test_fill_the_real_rfp_workbook(cli, tmp_path, template):
    before = _sha(template)
    root = synthetic_campaign(tmp_path)
    changes = tmp_path / "changes.txt"
    changes.write_text(CHANGES + "\n")
    out = tmp_path / "filled" / "Benchmark_Results.xlsx"
    res = cli(
        "report", root, "--template", template, "--xlsx", out, "--changes", changes,
        "--proposed", "nodes=4", "--proposed", "bert=1100.5", "--proposed", "resnet=1500",
        "--test", "mpi_tasks=4", "--test", "omp_threads=2", "--json",
    )  # fmt: skip
    assert res.code == 0, res.err
    assert res.json()["written"] == {"rfp workbook": str(out)}
    assert _sha(template) == before  # the template itself is never written

    score = load_campaign(root).score
    bert_minutes = score.benchmarks["bert"].minutes
    resnet_minutes = score.benchmarks["resnet"].minutes
    assert bert_minutes == pytest.approx(sum(sorted(BERT_MINUTES)[1:-1]) / 8)

    filled, original = load_workbook(out), load_workbook(template)
    assert filled.sheetnames == original.sheetnames == SHEETS
    ws = filled["MLPerf"]
    assert ws["C7"].value == 1
    assert ws["C8"].value == pytest.approx(60 * bert_minutes)  # seconds, as the label asks
    assert ws["C9"].value == pytest.approx(60 * resnet_minutes)
    assert ws["C10"].value == 4 and ws["C11"].value == 2
    assert ws["C15"].value == "gcc 11.4.0; python 3.11.7"
    assert ws["C16"].value == "openmpi 4.1.5"
    assert "PyTorch 2.1" in ws["C17"].value and "cuda 12.2" in ws["C17"].value
    assert "nccl 2.18.5" in ws["C17"].value and "driver 535.104.05" in ws["C17"].value
    assert ws["B23"].value == CHANGES and ws["B23"].alignment.wrap_text
    assert (ws["D7"].value, ws["D8"].value, ws["D9"].value) == (4, 1100.5, 1500)

    # every other cell of every tab: same value and format; merges and sizes unchanged
    changed = {("MLPerf", c) for c in TEST_CELLS | PROPOSED_CELLS}
    for name in SHEETS:
        a, b = original[name], filled[name]
        assert a.dimensions == b.dimensions or name == "MLPerf"
        assert sorted(map(str, a.merged_cells.ranges)) == sorted(map(str, b.merged_cells.ranges))
        assert {k: v.width for k, v in a.column_dimensions.items()} == {
            k: v.width for k, v in b.column_dimensions.items()
        }
        rows = max(a.max_row, b.max_row)
        cols = max(a.max_column, b.max_column)
        for row in range(1, rows + 1):
            for col in range(1, cols + 1):
                ca, cb = a.cell(row, col), b.cell(row, col)
                if (name, ca.coordinate) in changed:
                    continue
                assert ca.value == cb.value, (name, ca.coordinate)
                assert _style(ca) == _style(cb), (name, ca.coordinate)
                assert repr(ca.alignment) == repr(cb.alignment), (name, ca.coordinate)
    # the D7 cell held 4 in the template: the Proposed column keeps what was asked
    assert original["MLPerf"]["C8"].value is None and original["MLPerf"]["B23"].value is None


def test_proposed_results_projected_from_the_published_ones(cli, tmp_path, template):
    """``--proposed bert=expect``: the proposed 2 nodes, each the campaign's node of 8
    A100-SXM4-80GB (16 in all), as ``gp2bm expect`` projects them, in seconds, each cell
    commented so."""
    root = synthetic_campaign(tmp_path)
    out = tmp_path / "filled.xlsx"
    res = cli("report", root, "--template", template, "--xlsx", out, "--proposed", "nodes=2",
              "--proposed", "bert=expect", "--proposed", "resnet=EXPECT")  # fmt: skip
    assert res.code == 0, res.err
    ws = load_workbook(out)["MLPerf"]
    atlas = load_atlas()
    for cell, bench in (("D8", "bert"), ("D9", "resnet")):
        expected = expect_benchmark(atlas, bench, "A100-SXM4-80GB", 16, 2)
        assert expected.minutes is not None
        one_node = expect_benchmark(atlas, bench, "A100-SXM4-80GB", 8, 1).minutes
        assert one_node is not None and expected.minutes < one_node
        assert ws[cell].value == pytest.approx(60 * expected.minutes, abs=1e-3)
        note = ws[cell].comment.text
        assert note.startswith("Projected from published MLPerf results, not measured")
        assert "--accelerator A100-SXM4-80GB --count 16 --nodes 2" in note
    assert ws["D7"].value == 2
    # a node with no accelerator the published results know: one line, nothing written
    inventory = root / "inventory.json"
    data = json.loads(inventory.read_text())
    data["gpus"] = {"count": 0, "gpus": []}
    inventory.write_text(json.dumps(data))
    bad = cli("report", root, "--template", template, "--xlsx", tmp_path / "no.xlsx",
              "--proposed", "bert=expect")  # fmt: skip
    assert bad.code == 2 and "--proposed bert=expect" in bad.err, bad.err
    assert len(bad.err.strip().splitlines()) == 1 and not (tmp_path / "no.xlsx").exists()


def test_rfp_workbook_refuses_an_invalid_result(cli, tmp_path, template):
    root = synthetic_campaign(tmp_path)
    bert = root / "gp2bm" / "results" / "node1" / "bert"
    for n in (0, 1):  # two failed runs: no valid BERT result
        write_run(bert, n, "bert", BERT_MINUTES[n], status="aborted")
    out = tmp_path / "filled.xlsx"
    res = cli("report", root, "--template", template, "--xlsx", out)
    assert res.code == 1
    assert "bert has no valid result" in res.err and res.err.count("\n") == 1
    assert not out.exists()


def test_rfp_bad_input(cli, tmp_path, template):
    root = synthetic_campaign(tmp_path)
    res = cli("report", root, "--template", template, "--xlsx", tmp_path / "o.xlsx",
              "--proposed", "gpus=8")  # fmt: skip
    assert res.code == 2 and "--proposed gpus" in res.err and "known:" in res.err
    res = cli("report", root, "--template", template, "--xlsx", tmp_path / "o.xlsx",
              "--proposed", "nodes")  # fmt: skip
    assert res.code == 2 and "KEY=VALUE" in res.err
    res = cli("report", root, "--template", template, "--xlsx", tmp_path / "o.xlsx",
              "--test", "bert=12")  # fmt: skip
    assert res.code == 2 and "measured" in res.err
    res = cli("report", root, "--template", template, "--xlsx", tmp_path / "o.xlsx",
              "--proposed", "nodes=four")  # fmt: skip
    assert res.code == 2 and "expected a number" in res.err
    res = cli("report", root, "--template", template, "--xlsx", tmp_path / "o.xlsx",
              "--changes", tmp_path / "missing.txt")  # fmt: skip
    assert res.code == 2 and "missing.txt: file not found" in res.err
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n\n")  # a blank description would be a gap verify fills again as one
    res = cli("report", root, "--template", template, "--xlsx", tmp_path / "o.xlsx",
              "--changes", empty)  # fmt: skip
    assert res.code == 2 and "empty.txt: empty" in res.err and "No changes." in res.err, res.err
    assert not (tmp_path / "o.xlsx").exists()
    token = "ghp_" + "A1b2C3d4" * 5  # a GitHub token's shape, pasted into the description
    leaky = tmp_path / "leaky.txt"
    leaky.write_text(f"Changed the data loader.\nPulled with {token}\nKey: unchanged\n")
    res = cli("report", root, "--template", template, "--xlsx", tmp_path / "o.xlsx",
              "--changes", leaky)  # fmt: skip
    assert res.code == 2 and "leaky.txt: holds a GitHub token on line 2" in res.err, res.err
    assert token not in res.err + res.out and not (tmp_path / "o.xlsx").exists()
    changes = tmp_path / "changes.txt"
    changes.write_text("None.\n")
    res = cli("report", root, "--changes", changes)  # no template given, none kept
    assert res.code == 2 and "--template" in res.err
    for r in (res,):
        assert "Traceback" not in r.err


def test_template_that_is_not_the_form(cli, tmp_path):
    root = synthetic_campaign(tmp_path)
    other = tmp_path / "other.xlsx"
    wb = Workbook()
    wb.active.title = "HPL"
    wb.save(other)
    res = cli("report", root, "--template", other, "--xlsx", tmp_path / "o.xlsx")
    assert res.code == 2 and "no 'MLPerf' tab" in res.err and "other.xlsx" in res.err
    junk = tmp_path / "junk.xlsx"
    junk.write_text("not a workbook")
    res = cli("report", root, "--template", junk, "--xlsx", tmp_path / "o.xlsx")
    assert res.code == 2 and "junk.xlsx: not a readable .xlsx workbook" in res.err
    wb = Workbook()
    wb.active.title = "MLPerf"
    wb.active["B6"], wb.active["C6"], wb.active["D6"] = "Hardware", "Test", "Proposed"
    wb.active["B7"] = "Number of nodes"
    wb.save(other)
    res = cli("report", root, "--template", other, "--xlsx", tmp_path / "o.xlsx")
    assert res.code == 2 and "no 'resnet Benchmark (seconds)' row" in res.err
    res = cli("report", root, "--template", other, "--xlsx", other)
    assert res.code == 2 and "is the template itself" in res.err


# ------------------------------------------------- a real smoke campaign, as a vendor has it


def _typed_seconds(value) -> bool:
    """A number in full, without float noise."""
    return isinstance(value, (int, float)) and repr(float(value)) == repr(round(value, 9))


@pytest.fixture(scope="module")
def smoke_unfilled(tmp_path_factory) -> Path:
    return unfilled_smoke_campaign(tmp_path_factory)


def test_smoke_campaign_without_description_or_changes_is_bannered(
    cli, tmp_path, template, smoke_unfilled
):
    view = load_campaign(smoke_unfilled)
    engines_used = {r.record.runtime for runs in view.runs.values() for r in runs}
    assert engines_used == {"local"}
    out = tmp_path / "Benchmark_Results.xlsx"
    res = cli("report", smoke_unfilled, "--template", template, "--xlsx", out)
    assert res.code == 0, res.err
    ws = load_workbook(out)["MLPerf"]
    for coord, bench in (("C8", "bert"), ("C9", "resnet")):
        value = ws[coord].value
        assert _typed_seconds(value), (coord, value)  # 0.239, never 0.23899999999999996
        assert value == pytest.approx(60 * view.score.benchmarks[bench].minutes, abs=1e-9)
    # the detected stack without its placeholders (the banner names them) and without an
    # engine no run used (podman is on this node; every run was a local process)
    libraries = ws["C17"].value or ""
    assert "<FILL IN>" not in libraries.upper() and "podman" not in libraries.lower()
    for engine in ("docker", "apptainer", "singularity", "enroot"):
        assert engine not in libraries.lower(), libraries
    assert ws["B23"].value is None  # no --changes: blank, and the banner says so
    # the banner: in B3 of the MLPerf tab, between the form's title (B2) and its header
    banner = ws["B3"].value
    assert banner.startswith("INCOMPLETE: ") and ws["B3"].font.b
    assert "system description" in banner and "not filled in" in banner
    assert "description of changes (B23) is blank: give --changes FILE" in banner
    if not libraries:  # nothing known of the libraries: a blank line the banner names
        assert "the libraries line (C17) is blank" in banner
    assert "the omp_threads line (C11) is blank" in banner and "--test omp_threads=N" in banner
    assert "mpi_tasks" not in banner and ws["C10"].value == 1  # one process a run: known
    assert "B3: the INCOMPLETE banner" in res.err
    assert f"filled {out}, tab 'MLPerf' (the template itself is unchanged):" in res.err
    assert "warning: incomplete: the description of changes (B23) is blank" in res.err
    assert "warning: incomplete: system description" in res.err


def test_smoke_campaign_with_everything_given_has_no_banner(
    cli, tmp_path, template, smoke_unfilled
):
    root = copy_campaign(smoke_unfilled, tmp_path / "filled")
    inventory = json.loads((root / "inventory.json").read_text())
    measured = {k: v for k, v in detected_fields(inventory).items() if k in COUNT_FIELDS}
    desc = root / ORG / "systems" / f"{SYSTEM}.json"
    desc.write_text(json.dumps({**system_description(), **measured}, indent=2))
    changes = tmp_path / "changes.txt"
    changes.write_text(CHANGES + "\n")
    out = tmp_path / "Benchmark_Results.xlsx"
    res = cli("report", root, "--template", template, "--xlsx", out, "--changes", changes,
              "--test", "omp_threads=1")  # fmt: skip
    assert res.code == 0, res.err
    wb = load_workbook(out)
    assert wb["MLPerf"]["C10"].value == 1  # MPI tasks: the one process each run started
    ws = wb["MLPerf"]
    assert ws["B3"].value is None and "gp2bm: incomplete" not in wb.sheetnames
    assert ws["B23"].value == CHANGES
    assert _typed_seconds(ws["C8"].value) and _typed_seconds(ws["C9"].value)
    assert "<FILL IN>" not in ws["C17"].value.upper()
    assert "incomplete" not in res.err.lower()


def test_answers_given_once_fill_the_bundle_and_an_incomplete_workbook_is_refused(
    cli, tmp_path, template, smoke_unfilled
):
    """report keeps the answers in the campaign; package fills the workbook from them
    into the bundle, refusing it while an answer is missing (here the description of
    changes) unless --allow-incomplete, which the bundle and verify then say."""
    root = copy_campaign(smoke_unfilled, tmp_path / "filled")
    inventory = json.loads((root / "inventory.json").read_text())
    no_gpu = {"accelerators_per_node": "0", "accelerator_model_name": "N/A",
              "accelerator_memory_capacity": "N/A"}  # fmt: skip
    desc = root / ORG / "systems" / f"{SYSTEM}.json"
    desc.write_text(json.dumps({**system_description(), **no_gpu,
                                **detected_fields(inventory)}, indent=2))  # fmt: skip
    given = ["--test", "mpi=N/A", "--test", "omp_threads=1"]
    assert cli("report", root, "--template", template, *given).code == 0
    bundle = tmp_path / "b.tar.gz"
    refused = cli("package", root, "-o", bundle)
    assert refused.code == 1 and not bundle.exists()
    assert "the filled RFP workbook is incomplete" in refused.err
    assert "description of changes" in refused.err and "--allow-incomplete" in refused.err
    written = cli("package", root, "-o", bundle, "--allow-incomplete", "--json")
    assert written.code == 0, written.err[-2000:]
    gaps = written.json()["incomplete"]
    assert any(g.startswith("RFP workbook Benchmark_Results.xlsx:") for g in gaps), gaps
    rules = json.loads((root / "campaign.json").read_text())["suite_file"]
    verdict = cli("verify", bundle, "--suite", rules, "--json")
    assert verdict.code == 1
    assert any("RFP workbook" in p for p in verdict.json()["problems"])
    assert verdict.json()["differences"] == []  # the incomplete workbook fills again alike
    # a blank description kept by an earlier gp2bm is blank, in the bundle and in verify
    kept = root / ".rfp-answers" / "answers.json"
    answers = json.loads(kept.read_text())
    kept.write_text(json.dumps({**answers, "changes": ""}))
    blank = tmp_path / "blank.tar.gz"
    assert cli("package", root, "-o", blank, "--allow-incomplete").code == 0
    verdict = cli("verify", blank, "--suite", rules, "--json")
    assert verdict.code == 1 and verdict.json()["differences"] == [], verdict.out[-2000:]
    kept.write_text(json.dumps(answers))
    # the description of changes given later: the kept answers, completed, make it whole
    changes = tmp_path / "changes.txt"
    changes.write_text(CHANGES + "\n")
    assert cli("report", root, "--changes", changes).code == 0  # the template is kept
    whole = tmp_path / "whole.tar.gz"
    res = cli("package", root, "-o", whole, "--json")
    assert res.code == 0, res.err[-2000:]
    names = tarfile.open(whole).getnames()
    assert any(n.endswith("reports/Benchmark_Results.xlsx") for n in names)
    assert any(n.endswith("changes/DESCRIPTION.txt") for n in names)
    assert cli("verify", whole, "--suite", rules).code == 0


def _launch(root: Path, edit) -> None:
    for record in sorted(root.glob("records/*/run_*.json")):
        data = json.loads(record.read_text())
        data["launch"] = edit(record, dict(data.get("launch") or {}))
        record.write_text(json.dumps(data, indent=2))


def test_mpi_tasks_and_omp_threads_come_from_the_runs_launch(cli, tmp_path, template):
    """Every run's launch started 8 processes a node with OMP_NUM_THREADS=4: the form says
    8 and 4. Runs that disagree leave the line blank, and the banner names it."""
    root = synthetic_campaign(tmp_path / "agree")

    def eight_by_four(record, launch):
        env = {**(launch.get("environment") or {}), "OMP_NUM_THREADS": "4"}
        return {**launch, "processes_per_node": 8, "nodes": 1, "environment": env}

    _launch(root, eight_by_four)
    out = tmp_path / "a.xlsx"
    assert cli("report", root, "--template", template, "--xlsx", out).code == 0
    ws = load_workbook(out)["MLPerf"]
    assert (ws["C10"].value, ws["C11"].value) == (8, 4)
    # one run of another launch: neither count is known
    other = synthetic_campaign(tmp_path / "disagree")

    def one_differs(record, launch):
        launch = eight_by_four(record, launch)
        if record.name == "run_0.json" and record.parent.name == "bert":
            launch.update(processes_per_node=4, environment={"OMP_NUM_THREADS": "2"})
        return launch

    _launch(other, one_differs)
    out = tmp_path / "b.xlsx"
    assert cli("report", other, "--template", template, "--xlsx", out).code == 0
    ws = load_workbook(out)["MLPerf"]
    assert ws["C10"].value is None and ws["C11"].value is None
    assert "the mpi_tasks line (C10) is blank" in ws["B3"].value
    assert "the omp_threads line (C11) is blank" in ws["B3"].value

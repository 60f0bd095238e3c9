"""Fail fast: after each run, whether the campaign can still pass (results.projection on the
runs scored so far), said at once by run-all, shown by status; --stop-early stops there with
nothing lost; a run far slower than the published results of the node's accelerator warns.

The rules are tested on logs scored as a campaign's are (synthetic MLPerf logs, MLCommons'
checkers); the whole path on real smoke campaigns whose runs are made to fail by the fault
wrapper tests/scripted_train.py."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from campaign_helpers import bench_dir, digests, run_all_local, write_suite
from synth import RESNET_MINUTES, write_run
from test_report_campaign import synthetic_campaign

from gp2bm.atlas import load_atlas, plausibility
from gp2bm.campaign.folder import Campaign, PlannedRun
from gp2bm.campaign.record import RunRecord
from gp2bm.results.projection import Outlook, project
from gp2bm.results.resultset import score_paths
from gp2bm.run.execute import RunOutcome
from gp2bm.run.watch import CampaignWatch, NodeAccelerators, node_accelerators, slow_run_warning
from gp2bm.spec.suite import Suite, load_suite

SCRIPTED = Path(__file__).resolve().parent / "scripted_train.py"


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Suite:
    """GP2BM's shape: 5 ResNet runs, 10 BERT, strict compliance, the RCP checked."""
    return load_suite(write_suite(tmp_path_factory.mktemp("suite"), rcp=True))


def _scored(folder: Path, suite: Suite, runs: list[dict], compliance: str = "strict"):
    """The resnet runs ``runs`` (write_run options each) scored as a campaign's are."""
    for n, kw in enumerate(runs):
        write_run(folder, n, "resnet", RESNET_MINUTES[n], **kw)
    return score_paths([folder], suite, compliance=compliance, rcp="factor")


FAILED = {"status": "aborted", "reach_target": False}


def test_one_failed_run_is_at_risk_a_second_cannot_pass(tmp_path, suite):
    at_risk = project(suite, _scored(tmp_path / "a", suite, [{}, FAILED]), {"resnet": [600.0]})
    assert at_risk.outlook is Outlook.AT_RISK
    assert at_risk.benchmarks["resnet"].failed == (
        "result_1 did not converge (best eval_accuracy 0.7490, target 0.759)",
    )
    assert "one more failed resnet run and the campaign cannot score" in at_risk.line()
    took = {"resnet": [600.0, 700.0, 650.0]}
    lost = project(suite, _scored(tmp_path / "b", suite, [{}, FAILED, FAILED]), took)
    assert lost.outlook is Outlook.CANNOT_PASS
    assert lost.benchmarks["resnet"].outlook is Outlook.CANNOT_PASS
    assert lost.benchmarks["bert"].outlook is Outlook.CAN_PASS
    line = lost.line()
    assert line.startswith("projection: cannot pass: resnet: 2 runs failed (result_1 did not ")
    assert "the olympic rule allows 1 of its 5" in line and "campaign cannot score" in line
    # 2 resnet runs and 10 bert runs left, each as long as the runs done (650 s): 2.2 h
    assert lost.runs_left == 12 and lost.seconds_left == pytest.approx(12 * 650.0)
    assert line.endswith("the 12 runs left would waste about 2.2 h of node time (estimated "
                         "from the 3 runs done)")  # fmt: skip
    assert lost.as_dict()["rules"][0].startswith("resnet: 5 runs, 1 failed run allowed")


def test_what_the_suite_allows_is_the_rule(tmp_path, suite):
    """A suite that allows no failed run: the first one decides it."""
    strict = dataclasses.replace(
        suite,
        benchmarks={
            n: dataclasses.replace(b, max_failed_runs=0) for n, b in suite.benchmarks.items()
        },
    )
    found = project(strict, _scored(tmp_path, strict, [{}, FAILED]), {})
    assert found.outlook is Outlook.CANNOT_PASS
    assert "the olympic rule allows 0 of its 5" in found.line()


def test_the_rcp_check_of_the_runs_so_far(tmp_path, suite):
    """Runs converging beyond the maximum speedup: a risk while runs are left, final once
    the set is whole; with fewer than 3 runs the checker has nothing left to judge."""
    fast = {"epochs": 30}
    two = project(suite, _scored(tmp_path / "two", suite, [fast] * 2), {})
    assert two.outlook is Outlook.CAN_PASS
    three = project(suite, _scored(tmp_path / "three", suite, [fast] * 3), {})
    assert three.outlook is Outlook.AT_RISK
    assert "resnet: RCP check of the 3 runs so far fails" in three.line()
    assert "the 2 runs left would have to converge in more epochs" in three.line()
    five = project(suite, _scored(tmp_path / "five", suite, [fast] * 5), {})
    assert five.outlook is Outlook.CANNOT_PASS
    assert "resnet: RCP check of its runs fails" in five.line()
    near = project(suite, _scored(tmp_path / "near", suite, [{}] * 3), {})
    assert near.outlook is Outlook.CAN_PASS  # converging near the RCP mean passes


def test_a_seed_used_twice_cannot_pass_in_strict_compliance(tmp_path, suite):
    runs = [{"seed": 77}, {"seed": 77}, {}]
    strict = project(suite, _scored(tmp_path / "s", suite, runs), {})
    assert strict.outlook is Outlook.CANNOT_PASS and "resnet: seeds:" in strict.line()
    report = project(suite, _scored(tmp_path / "r", suite, runs, "report"), {})
    assert report.outlook is Outlook.CAN_PASS


def test_node_time_of_the_runs_left(tmp_path, suite):
    none = project(suite, None, {})
    assert none.outlook is Outlook.CAN_PASS and none.runs_left == 15
    assert none.line().endswith("the 15 runs left take node time not known yet (no run done)")
    score = _scored(tmp_path, suite, [{}, {}])
    # bert has no run yet: its runs are estimated from every run done
    found = project(suite, score, {"resnet": [60.0, 80.0], "bert": []})
    assert found.seconds_left == pytest.approx(3 * 70.0 + 10 * 70.0)
    assert "about 15 min of node time (estimated from the 2 runs done)" in found.line()


# ---------------------------------------------------------------------------- the atlas


def test_the_node_accelerators_come_from_the_inventory():
    h100 = {"gpus": {"gpus": [{"name": "NVIDIA H100 80GB HBM3"} for _ in range(8)]}}
    assert node_accelerators(h100) == NodeAccelerators("H100-SXM5-80GB", 8)
    assert node_accelerators({"gpus": {"count": 0, "gpus": [], "error": "NVML"}}) is None
    mixed = {"gpus": {"gpus": [{"name": "NVIDIA H100 80GB HBM3"}, {"name": "NVIDIA A100"}]}}
    assert node_accelerators(mixed) is None
    assert node_accelerators({"gpus": {"gpus": [{"name": "Some Future GPU"}]}}) is None


def test_a_run_far_slower_than_published_warns():
    atlas = load_atlas()
    node = NodeAccelerators("H100-SXM5-80GB", 8)
    slowest = plausibility(atlas, "resnet", node.name, 8, 1, 10.0).slowest
    assert slowest is not None
    warning = slow_run_warning(atlas, "resnet", node, 1, slowest * 1.31)
    assert warning is not None and warning.startswith(
        "the node may be misconfigured: 31 % slower than the slowest published "
        "8x H100-SXM5-80GB ResNet result"
    )
    # within MLPerf's stated variance of ResNet (2.5 %), or within the record: no word
    assert slow_run_warning(atlas, "resnet", node, 1, slowest * 1.02) is None
    assert slow_run_warning(atlas, "resnet", node, 1, slowest * 0.9) is None


def test_the_watch_warns_of_a_run_far_slower_than_published(tmp_path):
    """On a campaign whose inventory has 8 A100-SXM4-80GB: a ResNet run 31 % slower than the
    slowest such published result warns; the campaign itself is complete and valid."""
    root = synthetic_campaign(tmp_path)
    meta = json.loads((root / "campaign.json").read_text())
    campaign = Campaign.open(root, load_suite(meta["suite_file"]), create=False)
    said: list[str] = []
    watch = CampaignWatch(campaign, True, said.append)
    published = plausibility(load_atlas(), "resnet", "A100-SXM4-80GB", 8, 1, 10.0)
    slowest = published.slowest
    assert slowest is not None
    record = RunRecord("resnet", 4, status="success", minutes=slowest * 1.31)
    projection = watch.check(RunOutcome(PlannedRun("resnet", 4, 5, 5), record))
    assert projection is not None and projection.outlook is Outlook.CAN_PASS
    assert said == [
        "warning: resnet run 4: the node may be misconfigured: 31 % slower than the slowest "
        f"published 8x A100-SXM4-80GB ResNet result ({slowest * 1.31:.2f} min against "
        f"{slowest:.2f} min, of {len(published.compared)} published results on 1 node)"
    ]


# ---------------------------------------------------------------------------- campaigns


def _scripted_suite(folder: Path, plan: str, runs: dict[str, int]) -> tuple[Path, Path]:
    """A smoke suite whose runs start through the fault wrapper, following ``plan``."""
    plan_file = folder / "plan"
    folder.mkdir(parents=True, exist_ok=True)
    plan_file.write_text(plan)
    suite = write_suite(folder / "suite", runs, local_env={"SMOKE_PLAN": str(plan_file)},
                        script=SCRIPTED)  # fmt: skip
    return suite, plan_file


def _line_after(err: str, start: str) -> str:
    lines = err.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(start))
    return lines[at + 1]


def test_a_second_non_converged_resnet_run_stops_the_campaign_at_once(cli, tmp_path):
    """Runs 1 and 2 of ResNet cannot converge: after run 1 the campaign is at risk, right
    after run 2 it cannot pass; --stop-early stops it there, every finished run kept and
    nothing half-done; status shows the projection; run-all with --stop-early again stops
    before any run; without it the campaign warns, goes on and completes."""
    suite, _ = _scripted_suite(tmp_path, "ok no-converge no-converge", {"resnet": 5, "bert": 3})
    campaign = tmp_path / "c"
    res = run_all_local(cli, suite, campaign, "--stop-early")
    assert res.code == 1, res.err[-2000:]
    assert _line_after(res.err, "resnet run 1 (2/8): did not reach").startswith(
        "projection: at risk: resnet: 1 run failed (result_1 did not converge"
    )
    decided = _line_after(res.err, "resnet run 2 (3/8): did not reach")
    assert decided.startswith("projection: cannot pass: resnet: 2 runs failed (result_1 did")
    assert "the 5 runs left would waste about" in decided
    last = res.err.strip().splitlines()[-1]
    assert last.startswith("gp2bm: ") and "stopped by --stop-early before its 5 run(s)" in last
    assert "misconfigured" not in res.err  # the smoke node has no GPU: the atlas says nothing
    assert "resnet run 3" not in res.err
    results = bench_dir(campaign, "resnet")
    kept = digests(results)
    assert sorted(kept) == ["result_0.txt", "result_1.txt", "result_2.txt"]
    records = campaign / "records" / "resnet"
    assert sorted(p.name for p in records.glob("run_*.json")) == [f"run_{i}.json" for i in range(3)]
    assert not list(records.glob("*.partial")) and not (records / "attempts").exists()
    assert not bench_dir(campaign, "bert").exists()

    status = cli("status", campaign, "--json")
    projection = status.json()["projection"]
    assert projection["outlook"] == "cannot pass" and projection["runs_left"] == 5
    assert projection["benchmarks"]["resnet"]["failed"][1].startswith("result_2 did not")
    shown = cli("status", campaign).out
    assert projection["line"] in shown
    # runs left: the score so far; each run's duration named as gp2bm's wall clock
    assert "score so far (" in shown and "wall s" in shown and "launch to exit" in shown

    again = run_all_local(cli, suite, campaign, "--stop-early")
    assert again.code == 1 and "started" not in again.err
    assert digests(results) == kept

    done = run_all_local(cli, suite, campaign, "--json")
    assert done.code == 1  # two failed runs: no valid result, as projected
    assert done.err.splitlines()[0].startswith("projection: cannot pass: resnet: 2 runs")
    assert {k: v for k, v in digests(results).items() if k in kept} == kept
    assert len(digests(results)) == 5 and len(digests(bench_dir(campaign, "bert"))) == 3
    assert done.json()["benchmarks"]["resnet"]["interval"]["reason"] == "no result"
    assert "score so far" not in cli("status", campaign).out  # every run done: the score


def test_a_campaign_that_can_pass_says_nothing_more(cli, tmp_path):
    """One run that did not converge is at risk (said once); the others go as before."""
    suite, _ = _scripted_suite(tmp_path, "no-converge", {"resnet": 3})
    res = run_all_local(cli, suite, tmp_path / "c", "--stop-early", "--json")
    assert res.code == 0, res.err[-2000:]
    said = [line for line in res.err.splitlines() if line.startswith("projection:")]
    assert said == [_line_after(res.err, "resnet run 0 (1/3): did not reach")]
    assert said[0].startswith("projection: at risk: resnet: 1 run failed (result_0 did not")
    assert res.json()["benchmarks"]["resnet"]["valid"]


def test_stop_early_is_for_the_runs_of_this_node(cli, tmp_path):
    suite = write_suite(tmp_path / "suite", {"resnet": 3})
    res = cli("run-all", "--suite", suite, "--campaign", tmp_path / "c", "--slurm",
              "--stop-early")  # fmt: skip
    assert res.code == 2 and "--stop-early" in res.err and "gp2bm status" in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()

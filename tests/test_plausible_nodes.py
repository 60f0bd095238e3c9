"""Runs across several nodes, judged against the published results of as many nodes: the
atlas counts accelerators in all (per node times nodes), the system description and the
inventory per node. verify, the HTML report's strip plot and run-all's slow-run warning
each hold a 2-node campaign of 8 H100 per node against the published 16x H100 on 2 nodes."""

from __future__ import annotations

from types import SimpleNamespace

from gp2bm.atlas import load_atlas
from gp2bm.evaluation import plausible
from gp2bm.evaluation.verification import Verification
from gp2bm.reports.html_report import _published
from gp2bm.run.watch import NodeAccelerators, slow_run_warning

H100 = {"accelerator_model_name": "NVIDIA H100 80GB HBM3", "accelerators_per_node": "8"}


def _view(nodes: int, minutes: dict[str, float]):
    """What plausible.judge and the report read of a campaign: its system description, its
    suite's node count, each benchmark's minutes."""
    suite = SimpleNamespace(nodes=nodes)
    benchmarks = {b: SimpleNamespace(minutes=m) for b, m in minutes.items()}
    score = SimpleNamespace(benchmarks=benchmarks, suite=suite)
    return SimpleNamespace(system_desc=H100, suite=suite, score=score)


def _published_on(benchmark: str, nodes: int) -> list[float]:
    rows = load_atlas().results(benchmark, "H100-SXM5-80GB", 8 * nodes, nodes)
    return sorted(r.minutes for r in rows if r.minutes is not None)


def test_a_two_node_result_is_judged_against_two_node_results(tmp_path):
    two = _published_on("resnet", 2)
    assert two and max(two) < min(_published_on("resnet", 1))  # two nodes are faster
    result = Verification(bundle=tmp_path / "b.tar.gz")
    plausible.judge(_view(2, {"resnet": two[0]}), result)  # type: ignore[arg-type]
    said = result.checked["plausibility"]
    assert said.startswith("resnet: plausible: within the range of ") and (
        "16x H100-SXM5-80GB ResNet results on 2 nodes" in said
    ), said
    assert not result.reservations


def test_a_two_node_result_far_faster_than_two_node_results_is_implausible(tmp_path):
    fastest = _published_on("bert", 2)[0]
    result = Verification(bundle=tmp_path / "b.tar.gz")
    plausible.judge(_view(2, {"bert": fastest / 2}), result)  # type: ignore[arg-type]
    assert [r["name"] for r in result.reservations] == ["implausible"], result.reservations
    assert "2.0x faster than any of" in result.checked["plausibility"]
    assert "16x H100-SXM5-80GB BERT results on 2 nodes" in result.checked["plausibility"]


def test_accelerators_the_record_cannot_judge_are_listed_as_unverifiable(tmp_path):
    """An accelerator the atlas does not know, or no published result at that count, is
    not believed by silence: it is listed among what the bundle cannot prove."""
    for desc in (
        {"accelerator_model_name": "Acme X9000", "accelerators_per_node": "8"},
        {"accelerator_model_name": "NVIDIA H100 80GB HBM3", "accelerators_per_node": "3"},
    ):
        view = _view(1, {"resnet": 10.0})
        view.system_desc = desc
        result = Verification(bundle=tmp_path / "b.tar.gz")
        plausible.judge(view, result)  # type: ignore[arg-type]
        assert not result.reservations
        (line,) = [u for u in result.unverifiable if u.startswith("published results: ")]
        assert "cannot judge" in line or "not judged" in line, line
    view = _view(1, {"resnet": 10.0})
    view.system_desc = {"accelerator_model_name": "N/A", "accelerators_per_node": "0"}
    result = Verification(bundle=tmp_path / "b.tar.gz")
    plausible.judge(view, result)  # type: ignore[arg-type]
    assert result.checked["plausibility"].startswith("not judged") and not result.unverifiable


def test_the_report_strip_plot_shows_the_results_of_as_many_nodes():
    view = _view(2, {"resnet": 7.7, "bert": 3.3})
    assert _published(view) == [  # type: ignore[arg-type]
        ("resnet", 7.7, _published_on("resnet", 2)),
        ("bert", 3.3, _published_on("bert", 2)),
    ]


def test_the_slow_run_warning_on_two_nodes_names_all_their_accelerators():
    slowest = _published_on("resnet", 2)[-1]
    warning = slow_run_warning(
        load_atlas(), "resnet", NodeAccelerators("H100-SXM5-80GB", 8), 2, slowest * 1.3
    )
    assert warning is not None and (
        "30 % slower than the slowest published 16x H100-SXM5-80GB ResNet result" in warning
    ), warning
    assert "on 2 nodes" in warning
    # a 2-node run as fast as one node's published results is far too slow for two nodes
    one_node = min(_published_on("resnet", 1))
    assert slow_run_warning(
        load_atlas(), "resnet", NodeAccelerators("H100-SXM5-80GB", 8), 2, one_node
    )

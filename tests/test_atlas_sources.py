"""The rounds' layouts and spellings of the system description (gp2bm/atlas/sources.py)."""

from __future__ import annotations

import pytest

from gp2bm.atlas.mirror import TreeEntry
from gp2bm.atlas.sources import availability_of, find_sets, read_system, system_facts


def test_v07_spellings_of_the_fields():
    facts, problems = system_facts(
        {
            "divison": "Closed",
            "number of nodes": "1.0",
            "accelerators_per_node": 8,
            "status": "onprem",
            "accelerator_model_name": "NVIDIA  A100-SXM4-40GB (400W)",
            "host_processor_model_name": "AMD EPYC 7742",
            "framework": "MXNet NVIDIA Release 20.06",
        }
    )
    assert problems == []
    assert (facts.division, facts.nodes, facts.accelerators_per_node) == ("closed", 1, 8)
    assert facts.availability == "available" and facts.status == "onprem"
    assert facts.accelerator_published == "NVIDIA A100-SXM4-40GB (400W)"


def test_what_a_description_lacks_is_said():
    facts, problems = system_facts({"division": "closed-ish", "number_of_nodes": "two"})
    assert facts.nodes is None and facts.accelerators_per_node is None
    assert len(problems) == 4 and any("number_of_nodes 'two'" in p for p in problems)


@pytest.mark.parametrize(
    ("status", "category"),
    [
        ("Available on-premise", "available"),
        ("available on premise", "available"),
        ("Available cloud", "available"),
        ("cloud", "available"),
        ("Preview", "preview"),
        ("research", "research"),
        ("whenever", None),
    ],
)
def test_availability_categories(status, category):
    assert availability_of(status) == category


def test_unreadable_descriptions():
    assert read_system(None)[1] is not None
    assert "not JSON" in str(read_system(b"{")[1])
    assert read_system(b"[]")[1] == "the system description is not a JSON object"
    assert read_system(b'\xef\xbb\xbf{"a": 1}') == ({"a": 1}, None)


def test_result_sets_of_a_tree():
    paths = [
        "Org/results/sys/resnet/result_0.txt",
        "Org/results/sys/resnet/result_1.txt",
        "Org/results/sys/resnet/scaling.json",
        "Org/results/sys/resnet/power/result_0.txt",
        "Org/results/sys/bert/result_10.txt",
        "Org/results/sys/ssd/result_0.txt",
        "Org/results/sys/bert/notes.md",
        "Org/systems/sys.json",
    ]
    sets, unread = find_sets("v4.0", [TreeEntry(p, f"blob{i}", 1) for i, p in enumerate(paths)])
    assert [(s.system, s.benchmark, len(s.logs)) for s in sets] == [
        ("sys", "bert", 1),
        ("sys", "resnet", 2),
    ]
    resnet = sets[1]
    assert resnet.scaling is not None and resnet.scaling.path.endswith("scaling.json")
    assert (
        resnet.folder == "Org/results/sys/resnet" and resnet.system_path == "Org/systems/sys.json"
    )
    assert [u.path for u in unread] == ["Org/results/sys/resnet/power"]

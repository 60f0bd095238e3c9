"""gp2bm atlas and gp2bm expect: wiring, output forms, exit codes."""

from __future__ import annotations

import csv
import io

from gp2bm.atlas import expect, load_atlas
from gp2bm.reports.atlas_text import CSV_COLUMNS
from gp2bm.spec.suite import load_suite


def test_atlas_filters_and_prints_json(cli):
    res = cli(
        "atlas", "--benchmark", "resnet", "--accelerator", "H100-SXM5-80GB", "--count", 8, "--json"
    )
    assert res.code == 0, res.err
    data = res.json()
    expected = load_atlas().rows(benchmark="resnet", accelerator="H100-SXM5-80GB", count=8)
    assert data["count"] == len(expected) == len(data["rows"]) > 10
    assert [r["source"] for r in data["rows"]] == [r.source for r in expected]
    first = data["rows"][0]
    assert first["accelerator"] == "H100-SXM5-80GB" and first["count"] == 8
    assert {"round", "submitter", "system", "minutes", "runs", "commit", "init_minutes"} <= set(
        first
    )


def test_atlas_csv_has_every_column_and_exact_numbers(cli):
    res = cli("atlas", "--round", "4.0", "--benchmark", "bert", "--division", "closed", "--csv")
    assert res.code == 0, res.err
    rows = list(csv.DictReader(io.StringIO(res.out)))
    expected = load_atlas().rows(benchmark="bert", round="v4.0", division="closed")
    assert list(rows[0]) == CSV_COLUMNS and len(rows) == len(expected)
    for line, row in zip(rows, expected, strict=True):
        assert float(line["minutes"]) == row.minutes and line["system"] == row.system


def test_atlas_table(cli):
    res = cli("atlas", "--nodes", 1, "--count", 8, "--accelerator", "NVIDIA H100 80GB HBM3")
    assert (
        res.code == 0 and "published result set(s)" in res.out and "eos_ngc24.04_mxnet" in res.out
    )


def test_atlas_bad_input_is_one_line(cli):
    res = cli("atlas", "--round", "9.9")
    assert res.code == 2 and res.err.count("\n") == 1 and "the atlas has rounds v0.7" in res.err
    res = cli("atlas", "--csv", "--json")
    assert res.code == 2 and "not both" in res.err


def test_expect_h100_prints_minutes_score_and_the_results_used(cli):
    res = cli("expect", "--accelerator", "H100-SXM5-80GB", "--count", 8)
    assert res.code == 0, res.err
    found = expect(load_atlas(), "H100-SXM5-80GB", 8, 1, load_suite())
    text = " ".join(res.out.split())
    for name, b in found.benchmarks.items():
        assert f"{name}: {b.minutes:.2f} min" in text
        assert f"range {b.low:.2f} to {b.high:.2f}" in text
    assert f"= {found.score:.4f}" in text and "expected RFP score: 7.19/R + 9.05/B" in text
    assert "eos_ngc24.04_mxnet" in text and "rule: median of the closed-division results" in text
    assert "campaign node time" in text


def test_expect_json_is_the_api_object(cli):
    res = cli("expect", "--accelerator", "H100-SXM5-80GB", "--count", 16, "--nodes", 2, "--json")
    assert res.code == 0, res.err
    assert res.json() == expect(load_atlas(), "H100-SXM5-80GB", 16, 2, load_suite()).as_dict()


def test_expect_nodes_default_to_the_suites(cli):
    data = cli("expect", "--accelerator", "H100-SXM5-80GB", "--count", 8, "--json").json()
    assert data["nodes"] == load_suite().nodes == 1


def test_expect_cannot_tell_exits_1(cli):
    res = cli("expect", "--accelerator", "Acme X9000", "--count", 8)
    assert res.code == 1
    assert "cannot tell" in res.out and "cannot tell every benchmark" in res.err


def test_a_name_of_several_accelerators_is_asked_not_guessed(cli):
    """"H100" is three parts of the record, "A100" four (and one old result published as
    "NVIDIA A100"): expect and atlas name them and exit 2; a part's own name passes."""
    res = cli("expect", "--accelerator", "H100", "--count", 8)
    assert res.code == 2 and res.err.count("\n") == 1, res.err
    assert "H100-PCIe-80GB, H100-SXM5-80GB, H100-SXM5-96GB; give one of them" in res.err
    res = cli("expect", "--accelerator", "A100", "--count", 8)
    assert res.code == 2 and "A100-SXM4-80GB" in res.err and "'A100' alone is how 1" in res.err
    res = cli("expect", "--accelerator", "MI300X", "--count", 8)
    assert res.code == 2 and "MI300X-192GB; give one of them" in res.err
    res = cli("atlas", "--accelerator", "H100")
    assert res.code == 2 and "H100-SXM5-80GB" in res.err
    assert cli("atlas", "--accelerator", "A100").code == 0  # its one published row is shown
    assert cli("expect", "--accelerator", "Gaudi", "--count", 8).code == 0  # not Gaudi2


def test_expect_needs_a_count(cli):
    res = cli("expect", "--accelerator", "H100-SXM5-80GB", "--count", 0)
    assert res.code == 2


def test_the_commands_load_no_scoring_machinery():
    from test_cli_lazy import loaded

    modules = loaded("expect", "--accelerator", "H100-SXM5-80GB", "--count", "8", "--json")
    assert "gp2bm.cli.atlas" in modules
    assert not any(m.startswith(("gp2bm.results", "gp2bm.atlas.build")) for m in modules)

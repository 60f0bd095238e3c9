"""Reading a campaign for the reports (gp2bm.reports.view), and the campaigns the hand-in
tests share: a synthetic one (exact times, passes RCP) and a real smoke one (local runs)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from campaign_helpers import write_suite
from synth import BERT_MINUTES, PROCESS_EXTRA_S, RESNET_MINUTES, write_run

from gp2bm.campaign.record import SCHEMA as RECORD_SCHEMA
from gp2bm.errors import InputError
from gp2bm.node.systemdesc import build, detected_fields
from gp2bm.reports import telemetry as telemetry_module
from gp2bm.reports import xlsx_report
from gp2bm.reports.claims import claims
from gp2bm.reports.software import software
from gp2bm.reports.telemetry import Telemetry, TelemetrySummary, read_telemetry
from gp2bm.reports.view import load_campaign, summarized

REPO = Path(__file__).resolve().parent.parent
RFP_WORKBOOK = REPO.parent / "shared" / "fixtures" / "rfp" / "Benchmark_Results.xlsx"
ORG, SYSTEM = "gp2bm", "node1"


def system_description(system: str = SYSTEM, org: str = ORG) -> dict:
    """A system description that MLCommons' 3.1.0 system-description checker accepts."""
    return {
        "submitter": org,
        "division": "closed",
        "status": "Available on-premise",
        "system_name": system,
        "number_of_nodes": "1",
        "host_processors_per_node": "2",
        "host_processor_model_name": "AMD EPYC 7763",
        "host_processor_core_count": "64",
        "host_processor_vcpu_count": "128",
        "host_processor_frequency": "2450 MHz",
        "host_processor_caches": "L3 256 MiB",
        "host_processor_interconnect": "N/A",
        "host_memory_capacity": "1 TB",
        "host_storage_type": "NVMe SSD",
        "host_storage_capacity": "15 TB",
        "host_networking": "InfiniBand HDR",
        "host_networking_topology": "N/A",
        "host_memory_configuration": "16x 64 GB DDR4",
        "accelerators_per_node": "8",
        "accelerator_model_name": "NVIDIA A100-SXM4-80GB",
        "accelerator_host_interconnect": "PCIe 4.0 x16",
        "accelerator_frequency": "1410 MHz",
        "accelerator_on-chip_memories": "N/A",
        "accelerator_memory_configuration": "HBM2e",
        "accelerator_memory_capacity": "80 GB",
        "accelerator_interconnect": "NVLink",
        "accelerator_interconnect_topology": "N/A",
        "cooling": "air",
        "hw_notes": "N/A",
        "framework": "PyTorch 2.1 (NGC 23.09)",
        "other_software_stack": {
            "cuda_version": "12.2",
            "cudnn_version": "8.9.5",
            "nccl_version": "2.18.5",
            "openmpi_version": "4.1.5",
            "gcc_version": "11.4.0",
        },
        "operating_system": "Ubuntu 22.04",
        "sw_notes": "N/A",
    }


INVENTORY = {
    "schema": "gp2bm.inventory/1",
    "host": {"hostname": "node1", "python": "3.11.7", "gp2bm_version": "0.1.0"},
    "os": {"name": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0"},
    "cpu": {"model_name": "AMD EPYC 7763", "logical_cpus": 128},
    "gpus": {
        "driver_version": "535.104.05",
        "cuda_driver_version": "12.2",
        "count": 8,
        "gpus": [{"index": i, "name": "NVIDIA A100-SXM4-80GB"} for i in range(8)],
    },
    "nvidia_smi": {"present": True, "query": "==== NVSMI LOG ====\n" + "x " * 400},
}


def write_telemetry(path: Path, seconds: int = 12, gpus: int = 2) -> None:
    """Samples in the layout of gp2bm's telemetry sampler (gp2bm/telemetry.py)."""
    header = ["time_utc", "elapsed_s", "host_cpu_pct", "host_mem_used_bytes", "host_mem_pct"]
    quantities = ["power_w", "sm_util_pct", "temp_c", "mem_used_bytes", "clock_event_reasons"]
    header += [f"gpu{g}_{q}" for g in range(gpus) for q in quantities]
    lines = [",".join(header)]
    for t in range(seconds):
        row = [f"2024-03-01T10:00:{t:02d}.000+00:00", f"{t + 0.001:.3f}", "", "2e9", "12.5"]
        if t:
            row[2] = str(40 + t)
        for g in range(gpus):
            row += [str(250 + 10 * g + t), str(90 - g), str(60 + t / 2), str(2**30), ""]
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n")


# When the synthetic campaign's first run starts, and how far apart its runs are.
FIRST_START_MS = 1_709_287_200_000  # 2024-03-01T10:00:00Z
HOUR_MS = 3_600_000
# gp2bm's run line of a synthetic run, as gp2bm writes it (the run's own keys added).
TRACE = {
    "gp2bm_version": "0.1.0",
    "image": "gp2bm/smoke:latest",
    "image_id": None,
    "runtime": "local",
    "host": "node1",
    "node": "node1",
    "allow_unpinned": False,
    "earlier_attempts": 0,
}


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def synthetic_record(root: Path, path: Path, bench: str, n: int, minutes: float, start_ms: int):
    """The run record of a synthetic run: what run-all writes, its times around the log's."""
    seconds = minutes * 60 + PROCESS_EXTRA_S  # the process: start-up, run, exit
    return {
        "schema": RECORD_SCHEMA,
        "benchmark": bench,
        "run": n,
        "log": str(path.relative_to(root)),
        "status": "success",
        "seed": 1000 + n * 7,
        "runtime": "local",
        "container": f"gp2bm-synthetic-{bench}-{n}",
        "command": ["python3", "train.py", "--benchmark", bench],
        "image": TRACE["image"],
        "image_pinned": False,
        "image_id": None,
        "image_repo_digests": [],
        "allow_unpinned": False,
        "privileged": False,
        "relaxed": [],
        "host": TRACE["host"],
        "node": TRACE["node"],
        "gp2bm_version": TRACE["gp2bm_version"],
        "cache_drop": {"ok": True, "method": "command", "seconds": 0.01, "error": None},
        "preflight": "passed",
        "start": _iso(start_ms),
        "stop": _iso(start_ms + round(seconds * 1000)),
        "seconds": seconds,
        "observed_seconds": minutes * 60,
        "exit_code": 0,
        "earlier_attempts": 0,
        "log_status": "success",
        "minutes": minutes,
        "telemetry": {"samples": 12, "power_w": {"mean": 260.0}},
        "node_facts": {
            "cpu_model": INVENTORY["cpu"]["model_name"],
            "logical_cpus": INVENTORY["cpu"]["logical_cpus"],
            "gpu_count": INVENTORY["gpus"]["count"],
            "gpu_models": [g["name"] for g in INVENTORY["gpus"]["gpus"]],
            "memory_gib": 1024,
        },
    }


def synthetic_campaign(
    folder: Path,
    *,
    rcp: bool = True,
    system_json: bool = True,
    telemetry: bool = True,
    inventory: bool = True,
    runs: dict[str, list[float]] | None = None,
    bench_kw: dict[str, dict] | None = None,
    **log_kw,
) -> Path:
    """A campaign folder with synthetic logs (exact times, passing compliance and RCP),
    run records, telemetry, inventory and a system description, as run-all would leave it
    (gp2bm's own lines in every log). ``log_kw``: options of every log (synth.run_log_text);
    ``bench_kw``: of one benchmark's logs."""
    runs = runs or {"resnet": RESNET_MINUTES, "bert": BERT_MINUTES}
    suite = write_suite(folder / "suite", {b: len(m) for b, m in runs.items()}, rcp=rcp)
    root = folder / "campaign"
    root.mkdir(parents=True)
    meta = {
        "org": ORG,
        "system": SYSTEM,
        "suite": "smoketest",
        "suite_file": str(suite),
        "ruleset": "3.1.0",
        "runtime": "local",
        "created": "2024-03-01T10:00:00.000+00:00",
        "gp2bm_version": "0.1.0",
    }
    (root / "campaign.json").write_text(json.dumps(meta, indent=2))
    names = {k: meta[k] for k in ("org", "system", "suite", "created")}
    for b, (bench, minutes) in enumerate(runs.items()):
        records = root / "records" / bench
        records.mkdir(parents=True)
        for n, m in enumerate(minutes):
            start_ms = FIRST_START_MS + (b * 20 + n) * HOUR_MS
            trace = {**TRACE, "benchmark": bench, "run": n, "seed": 1000 + n * 7,
                     "campaign": names}  # fmt: skip
            kw = {"start_ms": start_ms, "gp2bm_run": trace, "jitter": b * 20 + n + 1, **log_kw}
            kw.update((bench_kw or {}).get(bench, {}))
            path = write_run(root / ORG / "results" / SYSTEM / bench, n, bench, m, **kw)
            record = synthetic_record(root, path, bench, n, m, start_ms)
            (records / f"run_{n}.json").write_text(json.dumps(record))
            if telemetry:
                write_telemetry(records / f"telemetry_{n}.csv")
    if system_json:
        sys_dir = root / ORG / "systems"
        sys_dir.mkdir(parents=True)
        (sys_dir / f"{SYSTEM}.json").write_text(json.dumps(system_description(), indent=2))
    if inventory:
        (root / "inventory.json").write_text(json.dumps(INVENTORY, indent=2))
    return root


_SMOKE: dict[str, Path] = {}


def smoke_campaign(tmp_path_factory) -> Path:
    """A real smoke campaign (15 local runs of containers/smoke/train.py, RCP off), made
    once per test session; tests copy it before changing anything."""
    if "root" not in _SMOKE:
        base = tmp_path_factory.mktemp("smoke-campaign")
        suite = write_suite(base / "suite")
        root = base / "campaign"
        proc = subprocess.run(
            [sys.executable, "-m", "gp2bm", "run-all", "--suite", str(suite), "--campaign",
             str(root), "--runtime", "local", "--system", SYSTEM, "--cache-drop-command", "true"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        # run-all describes the node with placeholders for what only the vendor knows; what
        # the inventory measured stays what it measured (verify compares them), and a node
        # without a GPU says so
        sys_dir = root / ORG / "systems"
        sys_dir.mkdir(parents=True, exist_ok=True)
        inv_path = root / "inventory.json"
        inventory = json.loads(inv_path.read_text()) if inv_path.is_file() else {}
        no_gpu = {"accelerators_per_node": "0", "accelerator_model_name": "N/A",
                  "accelerator_memory_capacity": "N/A"}  # fmt: skip
        desc = {**system_description(), **no_gpu, **detected_fields(inventory)}
        (sys_dir / f"{SYSTEM}.json").write_text(json.dumps(desc, indent=2))
        _SMOKE["root"] = root
    return _SMOKE["root"]


def unfilled_smoke_campaign(tmp_path_factory) -> Path:
    """A copy of the smoke campaign with the system description run-all writes where the
    vendor has not filled system.yaml in: what the node told, placeholders for the rest."""
    root = copy_campaign(
        smoke_campaign(tmp_path_factory), tmp_path_factory.mktemp("unfilled") / "campaign"
    )
    inventory = json.loads((root / "inventory.json").read_text())
    desc = root / ORG / "systems" / f"{SYSTEM}.json"
    desc.write_text(json.dumps(build(inventory, nodes=1).fields, indent=2))
    return root


def copy_campaign(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".gp2bm.lock"))
    return dest


# ------------------------------------------------------------------------------- tests


def test_load_campaign_reads_every_part(tmp_path):
    root = synthetic_campaign(tmp_path)
    view = load_campaign(root)
    assert view.org == ORG and view.system == SYSTEM and view.suite.name == "smoketest"
    assert view.score.valid and view.score.score is not None
    assert [len(v) for v in view.runs.values()] == [5, 10]
    run = view.runs["bert"][3]
    assert run.index == 3 and run.record.seed == 1021
    assert run.telemetry is not None
    assert set(run.telemetry.metrics()) == {
        "host_cpu_pct",
        "host_mem_used_bytes",
        "host_mem_pct",
        "power_w",
        "sm_util_pct",
        "temp_c",
        "mem_used_bytes",
    }
    series = run.telemetry.series["power_w [gpu 1]"]
    assert series.seconds == pytest.approx(list(range(12))) and series.values[0] == 260.0
    assert run.telemetry.series["host_cpu_pct"].values[:2] == [None, 41.0]
    assert view.inventory["gpus"]["driver_version"] == "535.104.05"
    assert view.system_desc["system_name"] == SYSTEM
    assert set(view.manifests) == {"resnet", "bert"}
    names = dict(software(view))
    assert names["gpus.driver_version"] == "535.104.05"
    assert names["cuda_version"] == "12.2" and names["framework"].startswith("PyTorch")


def test_claims_are_score_json_with_relative_paths(tmp_path):
    root = synthetic_campaign(tmp_path)
    data = claims(load_campaign(root))
    assert data["benchmarks"]["bert"]["folder"] == f"{ORG}/results/{SYSTEM}/bert"
    assert str(tmp_path) not in json.dumps(data)
    assert set(data) >= {"suite", "ruleset", "benchmarks", "missing", "score"}


def test_optional_parts_may_be_absent(tmp_path):
    root = synthetic_campaign(tmp_path, system_json=False, telemetry=False, inventory=False)
    shutil.rmtree(root / "records")
    view = load_campaign(root)
    assert view.inventory is None and view.system_desc is None
    assert all(r.record is None and r.telemetry is None for rs in view.runs.values() for r in rs)
    assert view.score.valid


def test_the_workbook_of_a_summarized_view_is_the_same(tmp_path):
    """What verify's side process is handed (the view without telemetry samples) gives the
    same workbook, cell for cell."""
    view = load_campaign(synthetic_campaign(tmp_path))
    teles = [r.telemetry for rs in view.runs.values() for r in rs if r.telemetry is not None]
    assert teles and all(isinstance(t, Telemetry) for t in teles)
    small = summarized(view)
    smalls = [r.telemetry for rs in small.runs.values() for r in rs if r.telemetry is not None]
    assert len(smalls) == len(teles) and all(isinstance(t, TelemetrySummary) for t in smalls)
    full = xlsx_report.cell_values(xlsx_report.build_workbook(view))
    assert xlsx_report.cell_values(xlsx_report.build_workbook(small)) == full
    assert any(sheet.lower().startswith("telemetry") for sheet in full)


def test_unreadable_optional_json_is_a_note_not_a_failure(tmp_path):
    root = synthetic_campaign(tmp_path)
    (root / "inventory.json").write_text("{not json")
    view = load_campaign(root)
    assert view.inventory is None
    assert any("inventory.json" in n for n in view.notes)


@pytest.mark.parametrize(
    "text, series, first_seconds",
    [
        ("time_ms,power_w\n1000,10\n2000,11\n3500,12\n", "power_w", [0.0, 1.0, 2.5]),
        (
            "timestamp,gpu,temp_c\n2024-03-01T10:00:00Z,0,50\n2024-03-01T10:00:00Z,1,51\n"
            "2024-03-01T10:00:02Z,0,52\n2024-03-01T10:00:02Z,1,53\n",
            "temp_c [gpu 1]",
            [0.0, 2.0],
        ),
        ("power_w,name\n1,a\n2,b\n", "power_w", [0.0, 1.0]),  # no time column: 1 Hz
    ],
)
def test_telemetry_formats(tmp_path, text, series, first_seconds):
    path = tmp_path / "telemetry_0.csv"
    path.write_text(text)
    tele = read_telemetry(path)
    assert tele is not None
    assert tele.series[series].seconds == first_seconds
    assert "name" not in tele.series  # not numeric


@pytest.mark.parametrize("text", ["", "time\n", "a,b\nx,y\n", "\x00\x01binary"])
def test_telemetry_without_numbers_is_none(tmp_path, text):
    path = tmp_path / "telemetry_0.csv"
    path.write_text(text)
    assert read_telemetry(path) is None


def test_telemetry_row_written_between_the_passes_is_left_out(tmp_path, monkeypatch):
    """The sampler may add a line while the report reads the CSV: a half-written row that
    the first pass did not see has no time, and is left out (not a TypeError)."""
    path = tmp_path / "telemetry_0.csv"
    path.write_text(
        "time_utc,elapsed_s,power_w\n"
        "2026-03-01T10:00:00.000+00:00,0.000,10\n2026-03-01T10:00:01.000+00:00,1.000,11\n"
    )
    first_pass = telemetry_module._scan

    def scan_then_append(p):
        table = first_pass(p)
        with open(p, "a") as fh:
            fh.write("2026-03-01T10:00:0")  # the sampler's next row, cut in its first column
        return table

    monkeypatch.setattr(telemetry_module, "_scan", scan_then_append)
    tele = read_telemetry(path)
    assert tele is not None
    assert tele.series["power_w"].seconds == [0.0, 1.0]
    assert tele.series["power_w"].values == [10.0, 11.0]


def test_not_a_campaign_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no campaign.json"):
        load_campaign(tmp_path)
    (tmp_path / "campaign.json").write_text('{"org": "x", "system": "y", "suite": "z"}')
    with pytest.raises(InputError, match="campaign runs suite 'z'"):
        load_campaign(tmp_path)


def test_report_bad_input_is_one_line(cli, tmp_path):
    res = cli("report", tmp_path / "nowhere")
    assert res.code == 2 and res.err.count("\n") == 1 and "nowhere" in res.err
    root = synthetic_campaign(tmp_path)
    (root / "campaign.json").write_text("[1, 2")
    res = cli("report", root)
    assert res.code == 2 and "campaign.json" in res.err and "Traceback" not in res.err
    res = cli("report", tmp_path / "nowhere", "--proposed", "nodes=4")
    assert res.code == 2 and "--template" in res.err


def test_report_writes_all_three_by_default(cli, tmp_path):
    root = synthetic_campaign(tmp_path)
    res = cli("report", root, "--json")
    assert res.code == 0, res.err
    written = res.json()["written"]
    assert sorted(written) == ["csv", "html", "xlsx"]
    for path in written.values():
        assert Path(path).is_file() and Path(path).parent == root / "reports"


def test_unwritable_output_is_one_line(cli, tmp_path):
    root = synthetic_campaign(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    res = cli("report", root, "--csv", blocker / "results.csv")
    assert res.code == 2 and "a-file" in res.err and res.err.count("\n") == 1
    res = cli("package", root, "-o", blocker / "b.tar.gz")
    assert res.code == 2 and "a-file" in res.err and res.err.count("\n") == 1

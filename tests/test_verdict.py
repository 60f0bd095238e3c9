"""The evaluator's verdict on real smoke campaigns: each honest case verifies, each forgery
of every class of docs/VERIFY.md is refused naming its rule.

Forgeries are made as a vendor who wants a better number would make them: either in the
campaign, then packaged by gp2bm itself (the claims, reports and sums then agree with the
forged logs), or in an extracted bundle with SHA256SUMS recomputed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from campaign_helpers import SYSTEM, run_all_local, spawn_run_all, write_suite
from test_report_campaign import ORG, copy_campaign

from gp2bm.files import safetar
from gp2bm.handin.bundle import build_bundle

pytestmark = pytest.mark.slow

NVIDIA_RESNET = Path(__file__).resolve().parents[2] / "shared/fixtures/nvidia-v4.0/resnet/results"
MLLOG = ":::MLLOG "


# ------------------------------------------------------------------------------ helpers


def package(root: Path, out: Path, suite: Path | None = None) -> Path:
    result = build_bundle(root, out, suite)
    assert result.output.is_file()
    return result.output


def forged_campaign(campaign: Path, tmp_path: Path, forge: Callable[[Path], None]) -> Path:
    """A copy of the smoke campaign, forged, packaged by gp2bm."""
    root = copy_campaign(campaign, tmp_path / "campaign")
    forge(root)
    return package(root, tmp_path / "forged.tar.gz")


def resum(top: Path) -> None:
    """SHA256SUMS of every file of the bundle, as a careful forger rewrites it."""
    lines = []
    for path in sorted(p for p in top.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(top).as_posix()}")
    (top / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def forged_bundle(bundle: Path, tmp_path: Path, forge: Callable[[Path], None]) -> Path:
    """The bundle extracted, forged, its sums recomputed: the extracted folder."""
    (tmp_path / "x").mkdir(parents=True)
    safetar.extract(bundle, tmp_path / "x")
    (top,) = (tmp_path / "x").iterdir()
    forge(top)
    resum(top)
    return top


def verdict(cli, bundle: Path, *args) -> tuple[int, dict, str]:
    res = cli("verify", bundle, "--json", *args)
    assert res.code in (0, 1), res.out + res.err
    assert "Traceback" not in res.err and "crashed" not in res.out + res.err
    return res.code, json.loads(res.out), res.err


def texts(data: dict, cls: str | None = None) -> list[str]:
    return [f["text"] for f in data["findings"] if cls is None or f["class"] == cls]


def assert_refused(code: int, data: dict, cls: str, *words: str) -> str:
    """Exit 1, not verified, and a finding of class ``cls`` holding every word."""
    assert code == 1 and not data["verified"], data["findings"]
    hits = [t for t in texts(data, cls) if all(w in t for w in words)]
    assert hits, (cls, words, data["findings"])
    return hits[0]


def results(root: Path, bench: str) -> Path:
    return root / ORG / "results" / SYSTEM / bench


def events(path: Path) -> list:
    """A log's lines: each MLLOG line as its dict, any other line as its text."""
    out: list = []
    for line in path.read_text().splitlines():
        out.append(json.loads(line[len(MLLOG) :]) if line.startswith(MLLOG) else line)
    return out


def write_events(path: Path, lines: list) -> None:
    path.write_text(
        "".join((MLLOG + json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines)
    )


def find(lines: list, key: str, pick: Callable[[dict], bool] = lambda e: True) -> int:
    return next(
        i for i, e in enumerate(lines) if isinstance(e, dict) and e["key"] == key and pick(e)
    )


def target_eval(lines: list, target: float) -> int:
    return find(lines, "eval_accuracy", lambda e: e["value"] >= target)


def record_path(root: Path, bench: str, n: int) -> Path:
    return root / "records" / bench / f"run_{n}.json"


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def renamed_copy(suite: Path, folder: Path, **changes) -> Path:
    """The evaluator's own copy of a suite file: another name, no manifests beside it."""
    doc = yaml.safe_load(suite.read_text())
    doc.update(name="rfp-evaluation-copy", title="The RFP's suite, the evaluator's copy")
    for bench, fields in changes.items():
        if bench in doc["benchmarks"]:
            doc["benchmarks"][bench].update(fields)
        else:
            doc[bench] = fields
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rfp.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# ------------------------------------------------------------------ honest cases verify


def test_an_honest_bundle_verifies_by_the_evaluators_renamed_suite_file_alone(
    cli, honest, suite, tmp_path
):
    evaluator = renamed_copy(suite, tmp_path / "evaluator")
    assert sorted(p.name for p in evaluator.parent.iterdir()) == ["rfp.yaml"]
    code, data, _ = verdict(cli, honest, "--suite", evaluator)
    assert code == 0 and data["verified"], data["findings"]
    assert data["findings"] == [] and data["reservations"] == []
    assert str(evaluator) in data["reference"]["source"]
    assert data["reference"]["rules"]["benchmarks"]["resnet"]["weight"] == 7.19
    assert data["ledger"]["reservations"] == [] and data["ledger"]["runs"] == 15
    # the text verdict is short: what was recomputed, the rules, the ledger, "verified"
    res = cli("verify", honest, "--suite", evaluator)
    assert res.code == 0, res.out
    lines = res.out.splitlines()
    assert lines[-1].startswith("verified: score") and len(lines) <= 12, res.out
    assert any(line.strip().startswith("rules: your suite file") for line in lines), res.out
    assert sum(line.strip().startswith("ledger:") for line in lines) >= 3, res.out


def test_without_a_suite_the_reference_is_named_and_its_rules_hold(cli, honest):
    """The smoke campaign's suite `smoketest` is none of gp2bm's: the GP2BM suite is the
    reference, and the rules that differ (its RCP check) are named."""
    code, data, _ = verdict(cli, honest)
    assert data["reference"]["suite"] == "gp2rfp"
    assert "gp2bm's built-in suite gp2rfp" in data["reference"]["source"]
    assert_refused(code, data, "recomputed", "rule rcp")


@pytest.mark.parametrize(
    "bench, change, rule",
    [
        ("resnet", {"weight": 14.38}, "weight"),
        ("bert", {"target": 0.70}, "target"),
        ("checks", {"compliance": "report", "rcp": False}, "compliance"),
    ],
)
def test_a_bundled_suite_with_other_rules_does_not_verify(
    cli, campaign, suite, tmp_path, bench, change, rule
):
    doc = yaml.safe_load(suite.read_text())
    if bench in doc["benchmarks"]:
        doc["benchmarks"][bench].update(change)
    else:
        doc[bench] = change
    forged = suite.parent.parent / f"forged-{rule}" / "suite.yaml"
    forged.parent.mkdir(exist_ok=True)
    for manifest in suite.parent.glob("*.yaml"):
        shutil.copy(manifest, forged.parent / manifest.name)
    forged.write_text(yaml.safe_dump(doc, sort_keys=False))
    root = copy_campaign(campaign, tmp_path / "campaign")
    bundle = package(root, tmp_path / "forged.tar.gz", forged)
    # by the evaluator's suite file, and by the suite file's renamed copy alike
    for reference in (suite, renamed_copy(suite, tmp_path / "evaluator")):
        code, data, _ = verdict(cli, bundle, "--suite", reference)
        assert_refused(code, data, "recomputed", "rule ", rule, "the reference")


def test_rcp_checks_off_in_the_bundle_do_not_verify_against_rules_that_want_them(
    cli, honest, suite, tmp_path
):
    evaluator = renamed_copy(suite, tmp_path / "evaluator", checks={"compliance": "strict",
                                                                    "rcp": True})  # fmt: skip
    code, data, _ = verdict(cli, honest, "--suite", evaluator)
    assert_refused(code, data, "recomputed", "rule rcp")


# --------------------------------------------------------------------------- provenance


def _gp2bm_line(line: object) -> bool:
    return isinstance(line, dict) and line["key"].startswith("gp2bm_run")


def _strip_gp2bm_lines(root: Path) -> None:
    """Logs as if run elsewhere: no gp2bm line in them, no run record beside them."""
    for bench in ("resnet", "bert"):
        for log in results(root, bench).glob("result_*.txt"):
            kept = [e for e in events(log) if not _gp2bm_line(e)]
            write_events(log, kept)
    for rec in (root / "records").glob("*/run_*.json"):
        rec.unlink()


def test_logs_gp2bm_did_not_run_verify_only_accepted_and_labelled(cli, campaign, suite, tmp_path):
    bundle = forged_campaign(campaign, tmp_path, _strip_gp2bm_lines)
    code, data, _ = verdict(cli, bundle, "--suite", suite)
    assert_refused(code, data, "reservation", "not-run-by-gp2bm")
    (reserved,) = data["reservations"]
    assert len(reserved["runs"]) == 15 and "bert/9" in reserved["runs"]
    code, data, _ = verdict(cli, bundle, "--suite", suite, "--accept", "not-run-by-gp2bm")
    assert code == 0 and data["verified"], data["findings"]
    assert data["accepted"] == ["not-run-by-gp2bm"]
    assert [r["accepted"] for r in data["reservations"]] == [True]
    res = cli("verify", bundle, "--suite", suite, "--accept", "not-run-by-gp2bm")
    assert res.code == 0 and "accepted" in res.out and "gp2bm did not run" in res.out, res.out


def test_published_logs_copied_into_a_bundle_are_not_its_runs(cli, honest, suite, tmp_path):
    if not NVIDIA_RESNET.is_dir():
        pytest.skip(f"NVIDIA's published v4.0 logs are absent: {NVIDIA_RESNET}")

    def forge(top: Path) -> None:
        for log in NVIDIA_RESNET.glob("result_*.txt"):
            shutil.copy(log, results(top, "resnet") / log.name)
        for rec in (top / "records" / "resnet").glob("run_*.json"):
            rec.unlink()

    top = forged_bundle(honest, tmp_path, forge)
    code, data, _ = verdict(cli, top, "--suite", suite)
    assert_refused(code, data, "reservation", "not-run-by-gp2bm")
    (reserved,) = [r for r in data["reservations"] if r["name"] == "not-run-by-gp2bm"]
    assert reserved["runs"] == [f"resnet/{n}" for n in range(5)]


@pytest.mark.parametrize(
    "how, change, words",
    [
        ("missing key", lambda d: d.pop("seed"), "'seed' is missing"),
        ("wrong type", lambda d: d.update(seed=str(d["seed"])), "'seed' is not of its type"),
        ("wrong type", lambda d: d.update(observed_seconds=True), "'observed_seconds' is not"),
        ("newer", lambda d: d.update(schema="gp2bm.run-record/99"), "an unknown record format"),
        ("older", lambda d: d.update(schema="gp2bm.run-record/1"), "an older record format"),
        ("no object", None, "not a JSON object"),
        ("no JSON", None, "not a readable JSON record"),
        ("removed", None, "missing (rule: every run has its record)"),
    ],
)
def test_a_run_record_is_read_strictly(cli, honest, suite, tmp_path, how, change, words):
    def forge(top: Path) -> None:
        path = record_path(top, "bert", 3)
        if change is not None:
            edit_json(path, change)
        elif how == "no object":
            path.write_text("[]")
        elif how == "no JSON":
            path.write_text('{"schema": ')
        else:
            path.unlink()

    top = forged_bundle(honest, tmp_path, forge)
    code, data, _ = verdict(cli, top, "--suite", suite)
    assert_refused(code, data, "cross-checked", "records/bert/run_3.json", words)


def _renumber(root: Path, bench: str, order: list[int]) -> None:
    """Run ``order[k]`` becomes run k (its log and its record, the record's own fields
    edited to match); the other runs of the benchmark are removed."""
    folder = results(root, bench)
    moved = {}
    for k, n in enumerate(order):
        data = json.loads(record_path(root, bench, n).read_text())
        data.update(run=k, log=str((folder / f"result_{k}.txt").relative_to(root)))
        moved[k] = ((folder / f"result_{n}.txt").read_bytes(), data)
    for path in [*folder.glob("result_*.txt"), *(root / "records" / bench).glob("run_*.json")]:
        path.unlink()
    for k, (log, data) in moved.items():
        (folder / f"result_{k}.txt").write_bytes(log)
        record_path(root, bench, k).write_text(json.dumps(data, indent=2))


def test_the_five_fastest_of_ten_runs_renumbered_do_not_verify(cli, suite, tmp_path):
    """The vendor ran ResNet ten times and kept the five fastest as runs 0-4."""
    ten = write_suite(tmp_path / "ten", {"resnet": 10, "bert": 10})
    root = tmp_path / "campaign"
    res = run_all_local(cli, ten, root)
    assert res.code == 0, res.err[-2000:]
    shutil.copy(campaign_desc(suite), root / ORG / "systems" / f"{SYSTEM}.json")
    minutes = {
        n: json.loads(record_path(root, "resnet", n).read_text())["minutes"] for n in range(10)
    }
    fastest = sorted(minutes, key=minutes.get)[:5]
    assert fastest != list(range(5))
    _renumber(root, "resnet", fastest)
    bundle = package(root, tmp_path / "forged.tar.gz", suite)
    code, data, _ = verdict(cli, bundle, "--suite", suite)
    moved = next(k for k, n in enumerate(fastest) if n != k)
    assert_refused(
        code, data, "cross-checked", f"resnet/result_{moved}.txt",
        f"names run {fastest[moved]}", f"the file is run {moved}",
    )  # fmt: skip


def campaign_desc(suite: Path) -> Path:
    """The smoke campaign's system description (what the node is, as the tests fill it)."""
    return suite.parent.parent / "campaign" / ORG / "systems" / f"{SYSTEM}.json"


def test_one_run_copied_four_times_with_only_the_seed_changed(cli, campaign, suite, tmp_path):
    def forge(root: Path) -> None:
        folder = results(root, "bert")
        for k in range(1, 5):
            lines = events(folder / "result_0.txt")
            seed = 424242 + k
            lines[find(lines, "seed")]["value"] = seed
            lines[find(lines, "gp2bm_run")]["value"].update(run=k, seed=seed)
            write_events(folder / f"result_{k}.txt", lines)
            data = json.loads(record_path(root, "bert", 0).read_text())
            data.update(run=k, seed=seed, log=f"{ORG}/results/{SYSTEM}/bert/result_{k}.txt")
            record_path(root, "bert", k).write_text(json.dumps(data))

    bundle = forged_campaign(campaign, tmp_path, forge)
    code, data, _ = verdict(cli, bundle, "--suite", suite)
    assert_refused(code, data, "cross-checked", "bert/result_1.txt", "same evaluation curve")
    assert_refused(code, data, "cross-checked", "bert/result_4.txt", "same millisecond")


# ----------------------------------------------------------------------------- timeline


def _stop_before_target(lines: list) -> None:
    lines[find(lines, "run_stop")]["time_ms"] = lines[target_eval(lines, 0.72)]["time_ms"] - 1


def _stop_line_before_target(lines: list) -> None:
    stop = lines.pop(find(lines, "run_stop"))
    lines.insert(target_eval(lines, 0.72), stop)


def _start_after_training(lines: list) -> None:
    start = lines.pop(find(lines, "run_start"))
    stop = find(lines, "run_stop")
    start["time_ms"] = lines[stop]["time_ms"] - 1
    lines.insert(stop, start)


def _target_after_stop(lines: list) -> None:
    at = lines.pop(target_eval(lines, 0.72))
    stop = find(lines, "run_stop")
    at["time_ms"] = lines[stop]["time_ms"] + 3
    lines.insert(stop + 1, at)


def _second_stop(lines: list) -> None:
    stop = find(lines, "run_stop")
    lines.insert(stop + 1, dict(lines[stop]))


def _second_start(lines: list) -> None:
    start = find(lines, "run_start")
    lines.insert(start + 1, dict(lines[start]))


@pytest.mark.parametrize(
    "forge, words",
    [
        (_stop_before_target, "comes after run_stop"),
        (_stop_line_before_target, "comes after run_stop"),
        (_start_after_training, "run_start comes after the first training event"),
        (_target_after_stop, "comes after run_stop"),
        (_second_stop, "a second run_stop"),
        (_second_start, "a second run_start"),
    ],
)
def test_a_forged_timeline_is_named_by_file_line_and_rule(
    cli, campaign, suite, tmp_path, forge, words
):
    def edit(root: Path) -> None:
        log = results(root, "bert") / "result_2.txt"
        lines = events(log)
        forge(lines)
        write_events(log, lines)

    bundle = forged_campaign(campaign, tmp_path, edit)
    code, data, _ = verdict(cli, bundle, "--suite", suite)
    hit = assert_refused(code, data, "cross-checked", "bert/result_2.txt", words)
    assert ": line " in hit and "(rule: " in hit


def test_two_runs_with_the_same_start_stamp_are_copies(cli, campaign, suite, tmp_path):
    def edit(root: Path) -> None:
        first = events(results(root, "resnet") / "result_1.txt")
        log = results(root, "resnet") / "result_3.txt"
        lines = events(log)
        lines[find(lines, "run_start")]["time_ms"] = first[find(first, "run_start")]["time_ms"]
        write_events(log, lines)

    bundle = forged_campaign(campaign, tmp_path, edit)
    code, data, _ = verdict(cli, bundle, "--suite", suite)
    assert_refused(code, data, "cross-checked", "resnet/result_3.txt", "same millisecond",
                   "resnet/result_1.txt")  # fmt: skip


# ----------------------------------------------------------------------------- hardware


def _desc(top: Path) -> Path:
    return top / ORG / "systems" / f"{SYSTEM}.json"


@pytest.mark.parametrize(
    "forge, words",
    [
        (lambda t: (t / "inventory.json").unlink(), ["inventory.json: missing"]),
        (
            lambda t: edit_json(_desc(t), lambda d: d.update(
                accelerators_per_node="8", accelerator_model_name="NVIDIA H100-SXM5-80GB")),
            ["accelerators_per_node '8'", "the run records' nodes had [0]"],
        ),
        (
            lambda t: edit_json(_desc(t), lambda d: d.update(
                accelerator_model_name="NVIDIA H100-SXM5-80GB")),
            ["accelerator_model_name 'NVIDIA H100-SXM5-80GB'"],
        ),
        (
            lambda t: edit_json(_desc(t), lambda d: d.update(submitter="Someone Else")),
            ["submitter 'Someone Else'", "one organisation"],
        ),
        (
            lambda t: edit_json(_desc(t), lambda d: d.update(accelerators_per_node="N/A")),
            ["accelerators_per_node 'N/A' is not an integer"],
        ),
        (
            lambda t: edit_json(_desc(t), lambda d: d.update(
                host_processor_model_name="AMD EPYC 9654 96-Core Processor")),
            ["host_processor_model_name 'AMD EPYC 9654"],
        ),
        (
            lambda t: edit_json(_desc(t), lambda d: d.update(host_memory_capacity="4 TB")),
            ["host_memory_capacity '4 TB'"],
        ),
    ],
    ids=["no-inventory", "eight-gpus", "gpu-model", "submitter", "n/a-count", "cpu", "memory"],
)
def test_hardware_claims_are_held_to_the_node(cli, honest, suite, tmp_path, forge, words):
    top = forged_bundle(honest, tmp_path, forge)
    code, data, _ = verdict(cli, top, "--suite", suite)
    assert_refused(code, data, "cross-checked", *words)


def test_eight_gpus_claimed_with_an_edited_inventory_still_meet_the_records(
    cli, honest, suite, tmp_path
):
    def forge(top: Path) -> None:
        model = "NVIDIA H100-SXM5-80GB"
        edit_json(_desc(top), lambda d: d.update(accelerators_per_node="8",
                                                 accelerator_model_name=model))  # fmt: skip

        def gpus(inv: dict) -> None:
            inv["gpus"] = {"count": 8, "driver_version": "550.54.15",
                           "gpus": [{"index": i, "name": model} for i in range(8)]}  # fmt: skip

        edit_json(top / "inventory.json", gpus)

    top = forged_bundle(honest, tmp_path, forge)
    code, data, _ = verdict(cli, top, "--suite", suite)
    assert_refused(code, data, "cross-checked", "the run records' nodes had [0]")
    assert not any("the inventory" in t and "accelerators_per_node" in t for t in texts(data))


# ------------------------------------------------------------------------- reservations


@pytest.fixture(scope="module")
def reserved(tmp_path_factory, campaign) -> Path:
    """A real campaign run without the cache drop and without the pre-flight."""
    base = tmp_path_factory.mktemp("reserved")
    suite = write_suite(base / "suite")
    root = base / "campaign"
    res = subprocess_run_all(suite, root, "--no-cache-drop", "--skip-check")
    assert res.returncode == 0, res.stderr[-2000:]
    shutil.copy(campaign / ORG / "systems" / f"{SYSTEM}.json", _desc(root))
    return package(root, base / "handin.tar.gz", suite)


def subprocess_run_all(suite: Path, root: Path, *extra: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "gp2bm", "run-all", "--suite", str(suite), "--campaign", str(root),
         "--runtime", "local", "--system", SYSTEM, *extra],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_reservations_are_named_and_verified_only_when_each_is_accepted(cli, reserved, suite):
    code, data, _ = verdict(cli, reserved, "--suite", suite)
    assert code == 1
    names = sorted(r["name"] for r in data["reservations"])
    assert names == ["cache-drop", "preflight"], data["reservations"]
    assert data["ledger"]["cache_drops"] == {"disabled": 15}
    assert data["ledger"]["preflight"] == {"skipped": 15}
    code, data, _ = verdict(cli, reserved, "--suite", suite, "--accept", "cache-drop")
    assert_refused(code, data, "reservation", "preflight")
    code, data, _ = verdict(
        cli, reserved, "--suite", suite, "--accept", "cache-drop", "--accept", "preflight"
    )
    assert code == 0 and data["verified"], data["findings"]
    res = cli("verify", reserved, "--suite", suite, "--accept", "cache-drop",
              "--accept", "preflight")  # fmt: skip
    assert res.code == 0 and res.out.count("accepted") >= 2, res.out


def test_an_unknown_reservation_name_is_a_usage_error(cli, honest):
    res = cli("verify", honest, "--accept", "everything")
    assert res.code == 2 and "everything" in res.err and "Traceback" not in res.err


def test_a_run_interrupted_and_redone_is_a_reservation_even_with_its_attempt_deleted(
    cli, tmp_path, campaign
):
    marker = "0.0373"  # a unique --sleep-per-epoch value
    suite = write_suite(tmp_path / "suite", extra_args=["--sleep-per-epoch", marker])
    root = tmp_path / "campaign"
    proc = spawn_run_all(suite, root)
    partial = root / "records/resnet/result_2.txt.partial"
    try:
        deadline = time.monotonic() + 120
        while not (partial.exists() and partial.stat().st_size > 2000):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    res = run_all_local(cli, suite, root)
    assert res.code == 0, res.err[-2000:]
    assert json.loads(record_path(root, "resnet", 2).read_text())["earlier_attempts"] == 1
    shutil.copy(campaign / ORG / "systems" / f"{SYSTEM}.json", _desc(root))
    bundle = package(root, tmp_path / "handin.tar.gz", suite)
    code, data, _ = verdict(cli, bundle, "--suite", suite)
    assert_refused(code, data, "reservation", "attempts", "resnet/2")
    code, data, _ = verdict(cli, bundle, "--suite", suite, "--accept", "attempts")
    assert code == 0, data["findings"]

    def forge(top: Path) -> None:
        shutil.rmtree(top / "records" / "resnet" / "attempts")

    top = forged_bundle(bundle, tmp_path / "deleted", forge)
    code, data, _ = verdict(cli, top, "--suite", suite, "--accept", "attempts")
    assert_refused(code, data, "cross-checked", "records/resnet/run_2.json",
                   "1 earlier attempt(s), the bundle keeps 0")  # fmt: skip


def test_the_bundle_readme_points_to_the_trust_model(honest):
    with tarfile.open(honest) as tar:
        readme = next(m for m in tar.getmembers() if m.name.endswith("/README.md"))
        text = tar.extractfile(readme).read().decode()
    assert "docs/VERIFY.md" in text and "## Trust ledger" in text

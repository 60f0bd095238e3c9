"""gp2bm compare on real smoke campaigns: three honest vendors (their own --org, their own
run times, the smoke workload's --sleep-per-epoch) and one forgery of the evaluator's
verdict classes (a copy of the first vendor's campaign whose BERT logs stop before the
target is reached: a better number, packaged by gp2bm itself). The ranking, the forgery
set apart and flagged as the same vendor and system, the page (rendered by headless
Chromium), the workbook's types, the CSV, the same files from the bundles in any order, the
pool of verifications beside verify's own side process, a stop by SIGTERM, and bad input."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from campaign_helpers import NO_DROP, SYSTEM, write_suite
from openpyxl import Workbook
from test_report_campaign import copy_campaign, system_description
from test_report_html import CHROMIUM_FLAGS
from test_verdict import events, find, target_eval, write_events

from gp2bm.atlas import load_atlas
from gp2bm.atlas.claims import CANNOT_JUDGE, IMPLAUSIBLE, PLAUSIBLE
from gp2bm.evaluation.compare import judge
from gp2bm.handin.bundle import build_bundle
from gp2bm.node.systemdesc import detected_fields
from gp2bm.reports.official import typed_score

GP2BM = [sys.executable, "-m", "gp2bm"]
# The vendors: their organisation, the system's name in their words, and the seconds each
# epoch (BERT: each evaluation block) of their runs sleeps: the first is the fastest.
VENDORS = {
    "Alpha": ("Alpha A1", {"resnet": 0.0, "bert": 0.0}),
    # a name that would be markup, a formula and a terminal colour if it were not escaped
    "Beta": ('=HYPERLINK("http://x")<script>alert(1)</script>\x1b[31mB2', {"resnet": 0.005,
                                                                          "bert": 0.03}),
    "Gamma": ("Gamma G3", {"resnet": 0.015, "bert": 0.08}),
}  # fmt: skip
HOSTILE = VENDORS["Beta"][0]


def vendor_suite(folder: Path, sleep: dict[str, float]) -> Path:
    """The smoke suite (5 resnet + 10 bert runs, what MLCommons' package checker asks of
    a bundle), each run's epochs sleeping ``sleep`` seconds."""
    suite = write_suite(folder, {"resnet": 5, "bert": 10})
    for bench, seconds in sleep.items():
        if seconds:
            manifest = folder / f"{bench}.yaml"
            doc = yaml.safe_load(manifest.read_text())
            doc["local"]["command"] += ["--sleep-per-epoch", f"{seconds:g}"]
            manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    return suite


def describe(root: Path, org: str, name: str) -> None:
    """The system description the vendor fills in: what the node measured, no GPU."""
    inventory = json.loads((root / "inventory.json").read_text())
    no_gpu = {"accelerators_per_node": "0", "accelerator_model_name": "N/A",
              "accelerator_memory_capacity": "N/A"}  # fmt: skip
    desc = {**system_description(SYSTEM, org), **no_gpu, **detected_fields(inventory)}
    desc["system_name"] = name
    folder = root / org / "systems"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{SYSTEM}.json").write_text(json.dumps(desc, indent=2))


def forge_bert_stops(root: Path, org: str) -> None:
    """Every BERT log stops before its target is reached: each run looks faster."""
    for log in (root / org / "results" / SYSTEM / "bert").glob("result_*.txt"):
        lines = events(log)
        lines[find(lines, "run_stop")]["time_ms"] = lines[target_eval(lines, 0.72)]["time_ms"] - 1
        write_events(log, lines)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict[str, Path]:
    """The three vendors' bundles and the forged one, and the evaluator's suite file."""
    base = tmp_path_factory.mktemp("compare")
    procs = {}
    for org, (_, sleep) in VENDORS.items():  # the three campaigns side by side
        suite = vendor_suite(base / org / "suite", sleep)
        argv = [*GP2BM, "run-all", "--suite", str(suite), "--campaign", str(base / org / "c"),
                "--runtime", "local", "--system", SYSTEM, "--org", org, *NO_DROP]  # fmt: skip
        procs[org] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = {}
    for org, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-3000:]
        root = base / org / "c"
        describe(root, org, VENDORS[org][0])
        out[org] = build_bundle(root, base / f"{org}.tar.gz", None).output
    forged = copy_campaign(base / "Alpha" / "c", base / "forged")
    forge_bert_stops(forged, "Alpha")
    out["forged"] = build_bundle(forged, base / "forged-Alpha.tar.gz", None).output
    out["suite"] = base / "Alpha" / "suite" / "suite.yaml"
    return out


def order(bundles: dict[str, Path], names: list[str]) -> list[Path]:
    return [bundles[n] for n in names]


@pytest.fixture(scope="module")
def compared(bundles, tmp_path_factory) -> tuple[int, dict, dict[str, Path], str]:
    """``gp2bm compare`` of the four, with --json and every file."""
    out = tmp_path_factory.mktemp("compared")
    files = {"html": out / "c.html", "xlsx": out / "c.xlsx", "csv": out / "c.csv"}
    argv = [*GP2BM, "compare", *map(str, order(bundles, ["Alpha", "Beta", "Gamma", "forged"])),
            "--suite", str(bundles["suite"]), "--json",
            *(a for kind, path in files.items() for a in (f"--{kind}", str(path)))]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout), files, proc.stderr


@pytest.mark.slow
def test_the_verified_bundles_are_ranked_and_the_forgery_is_set_apart(bundles, compared):
    code, data, _, err = compared
    assert code == 1, err  # not every bundle verifies
    last = err.strip().splitlines()[-1]
    assert "1 of 4 set apart" in last and "forged-Alpha.tar.gz" in last, last
    ranked = data["ranking"]
    assert [e["vendor"] for e in ranked] == ["Alpha", "Beta", "Gamma"]  # fastest first
    assert [e["rank"] for e in ranked] == [1, 2, 3]
    assert ranked[0]["score"] > ranked[1]["score"] > ranked[2]["score"]
    for entry in ranked:
        assert entry["verified"] and entry["findings"] == [], entry["findings"]
        assert entry["system"] == SYSTEM and entry["nodes"] == 1
        assert entry["accelerators_per_node"] == 0 and entry["accelerator"] == ""
        low, high = entry["score_interval"]["low"], entry["score_interval"]["high"]
        assert low <= entry["score"] <= high
        for bench, runs in (("resnet", 5), ("bert", 10)):
            b = entry["benchmarks"][bench]
            assert b["runs"] == runs and b["valid"]
            assert b["seconds"] == pytest.approx(b["minutes"] * 60)
            assert b["interval_low"] <= b["minutes"] <= b["interval_high"]
            assert b["runs_min"] <= b["minutes"] <= b["runs_max"]
            assert b["plausibility"]["verdict"] == CANNOT_JUDGE  # no accelerator to look up
    assert ranked[1]["system_name"] == HOSTILE  # kept as the bundle says it, in the JSON
    # the forgery: set apart, never ranked, with its findings; flagged with Alpha's bundle
    (apart,) = data["apart"]
    assert apart["bundle"] == str(bundles["forged"]) and apart["rank"] is None
    assert any("comes after run_stop" in f["text"] and f["class"] == "cross-checked"
               for f in apart["findings"]), apart["findings"]  # fmt: skip
    assert apart["same_as"] == [str(bundles["Alpha"])]
    assert ranked[0]["same_as"] == [str(bundles["forged"])] and ranked[1]["same_as"] == []
    (group,) = data["same_vendor_system"]
    assert group["org"] == "Alpha" and len(group["bundles"]) == 2
    # every run of every vendor, counted or dropped
    for bench, runs in (("resnet", 5), ("bert", 10)):
        listed = data["runs"][bench]
        assert len(listed) == 4 * runs
        for bundle in order(bundles, ["Alpha", "Beta", "Gamma", "forged"]):
            roles = [r["role"] for r in listed if r["bundle"] == str(bundle)]
            assert len(roles) == runs and roles.count("counted") == runs - 2, roles
    assert data["reference"]["source"] == f"your suite file {bundles['suite']}"


@pytest.mark.slow
def test_the_page_renders_in_headless_chromium(compared, tmp_path):
    _, data, files, _ = compared
    page = files["html"].read_text(encoding="utf-8")
    # one file: nothing fetched, no script; the hostile name is text, never markup
    for attr in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page):
        assert attr.startswith(("data:", "#")), attr
    assert "<script" not in page and "<link" not in page and "url(" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "\x1b" not in page
    assert page.count('<tr class="ranked"') == 3 and page.count('<tr class="apart"') == 1
    for bench in ("resnet", "bert"):  # the strip plot: a marker per run, roles marked
        plot = page.split(f"<h3>{bench}</h3>", 1)[1].split("</svg>", 1)[0]
        runs = 5 if bench == "resnet" else 10
        assert plot.count('class="run counted"') == 4 * (runs - 2)
        assert plot.count('class="run dropped"') == 4 * 2
    assert page.count('class="score-bar"') == 3  # the forgery is not charted
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", files["html"].as_uri()], capture_output=True,
                         timeout=120, check=False, text=True).stdout  # fmt: skip
    ranks = re.findall(r'<tr class="ranked" data-rank="(\d)"><td class="num">\d</td><td>([^<]*)<',
                       dom)  # fmt: skip
    assert [(r, name.split(":")[0]) for r, name in ranks] == [
        ("1", "Alpha"), ("2", "Beta"), ("3", "Gamma")]  # fmt: skip
    assert "<script>alert" not in dom  # the name stayed text in the parsed page
    shot = tmp_path / "compare.png"
    proc = subprocess.run([*common, f"--screenshot={shot}", "--window-size=1280,2000",
                           files["html"].as_uri()], capture_output=True, timeout=120,
                          check=False)  # fmt: skip
    assert shot.is_file(), proc.stderr.decode(errors="replace")[-2000:]
    from PIL import Image

    colours = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 100  # tables and charts, not a blank page


@pytest.mark.slow
def test_the_workbook_has_a_sheet_per_table_with_typed_values(compared):
    from openpyxl import load_workbook

    _, data, files, _ = compared
    wb = load_workbook(files["xlsx"])
    assert wb.sheetnames == ["Ranking", "Not verified", "Runs", "Hardware", "Verdicts", "Rules"]
    ranking = wb["Ranking"]
    header = [c.value for c in ranking[1]]
    rows = [dict(zip(header, (c.value for c in row), strict=True)) for row in ranking.iter_rows(2)]
    assert [r["vendor"] for r in rows] == ["Alpha", "Beta", "Gamma"]
    for row, entry in zip(rows, data["ranking"], strict=True):
        assert isinstance(row["rank"], int) and row["verified"] is True
        stored = pytest.approx(typed_score(entry["score"]), rel=1e-14)  # a cell's 15 digits
        assert isinstance(row["score"], float) and row["score"] == stored
        assert isinstance(row["resnet_seconds"], float) and isinstance(row["bert_minutes"], float)
    # the hostile name is a string cell shown as typed, never a formula
    cell = ranking.cell(row=3, column=header.index("system_name") + 1)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK") and cell.quotePrefix
    apart = list(wb["Not verified"].iter_rows(2, values_only=True))
    assert len(apart) == 1 and apart[0][1] is False
    runs = list(wb["Runs"].iter_rows(2, values_only=True))
    assert len(runs) == 4 * 15 and all(isinstance(r[7], float) for r in runs)
    assert {r[10] for r in runs} == {True, False}  # counted, typed as a boolean


@pytest.mark.slow
def test_the_csv_has_one_row_per_bundle(compared):
    _, data, files, _ = compared
    rows = list(csv.DictReader(io.StringIO(files["csv"].read_text(encoding="utf-8"))))
    assert [r["vendor"] for r in rows] == ["Alpha", "Beta", "Gamma", "Alpha"]
    assert [r["rank"] for r in rows] == ["1", "2", "3", ""]
    assert [r["verified"] for r in rows] == ["yes", "yes", "yes", "no"]
    assert rows[1]["system_name"] == "'" + HOSTILE.replace("\x1b", "\\x1b")  # no formula
    assert float(rows[0]["score"]) == typed_score(data["ranking"][0]["score"])
    assert float(rows[2]["bert_seconds"]) > float(rows[0]["bert_seconds"])
    first = data["apart"][0]["findings"][0]
    assert rows[3]["findings"] == str(len(data["apart"][0]["findings"]))
    assert rows[3]["first_finding"] == f"{first['class']}: {first['text']}"
    assert rows[0]["same_vendor_system"] == rows[3]["bundle"]


@pytest.mark.slow
def test_the_same_bundles_in_another_order_give_the_same_files(bundles, compared, tmp_path):
    _, data, files, _ = compared
    again = {"html": tmp_path / "c.html", "xlsx": tmp_path / "c.xlsx", "csv": tmp_path / "c.csv"}
    argv = [*GP2BM, "compare", *map(str, order(bundles, ["forged", "Gamma", "Beta", "Alpha"])),
            "--suite", str(bundles["suite"]),
            *(a for kind, path in again.items() for a in (f"--{kind}", str(path)))]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1, proc.stderr
    assert again["csv"].read_bytes() == files["csv"].read_bytes()

    def timeless(path: Path) -> str:
        return re.sub(r"compared \S+ by gp2bm", "compared (when) by gp2bm", path.read_text())

    assert timeless(again["html"]) == timeless(files["html"])
    from openpyxl import load_workbook

    def cells(path: Path) -> dict:
        wb = load_workbook(path)
        return {ws.title: [r for r in ws.iter_rows(values_only=True) if r[0] != "generated"]
                for ws in wb}  # fmt: skip

    assert cells(again["xlsx"]) == cells(files["xlsx"])
    # the terminal's lines: the ranking, the forgery apart, the hostile name escaped
    out = proc.stdout
    assert "\x1b" not in out and "\\x1b[31mB2" in out
    assert out.index("  1. Alpha: Alpha A1") < out.index("  2. Beta: ") < out.index("  3. Gamma")
    assert "not verified, not ranked:" in out and "same vendor and system as" in out


POOL_SCRIPT = """
import json, os, sys
import psutil
import gp2bm.evaluation.compare as compare
from gp2bm.evaluation import early
from gp2bm.results.checkpool import can_fork

verify_one = compare.verify_one

def traced(*args):
    out = verify_one(*args)
    out["pid"], out["could_fork"] = os.getpid(), can_fork()
    return out

compare.verify_one = traced
suite, bundles = sys.argv[1], sys.argv[2:]
pooled = compare.verify_all(bundles, suite, [])
early.start()  # verify's side process, forked as its command starts and not yet taken
beside = compare.verify_all(bundles, suite, [])
left = [p.pid for p in psutil.Process().children(recursive=True) if p.is_running()
        and p.status() != psutil.STATUS_ZOMBIE]
print(json.dumps({"parent": os.getpid(), "pooled": pooled, "beside": beside, "left": left}))
"""


@pytest.mark.slow
def test_the_pool_of_verifications_keeps_clear_of_verifys_side_process(bundles):
    """Several bundles verified in forked workers: each worker verifies in one process (its
    watch on this process is a thread: no side process, no checker processes of its own).
    With verify's side process forked and not yet taken, nothing is forked beside it (its
    executor runs a thread): the bundles are verified here, the first taking the side as
    verify does; nothing waits for ever, nothing is left running."""
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("one core: the bundles are verified one after the other, in this process")
    argv = [sys.executable, "-c", POOL_SCRIPT, str(bundles["suite"]),
            *map(str, order(bundles, ["Alpha", "Beta", "Gamma", "forged"]))]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    pids = {r["pid"] for r in result["pooled"]}
    assert result["parent"] not in pids and 2 <= len(pids) <= min(cores, 4)
    assert not any(r["could_fork"] for r in result["pooled"])
    assert {r["pid"] for r in result["beside"]} == {result["parent"]}
    assert result["left"] == []
    for raw in (result["pooled"], result["beside"]):
        verified = {Path(r["bundle"]).name: r["verification"]["ok"] for r in raw}
        assert verified == {"Alpha.tar.gz": True, "Beta.tar.gz": True, "Gamma.tar.gz": True,
                            "forged-Alpha.tar.gz": False}  # fmt: skip


def _scratch(folder: Path) -> list[Path]:
    return sorted(folder.glob("gp2bm-*"))


@pytest.mark.slow
def test_sigterm_stops_the_comparison_and_leaves_no_scratch_folder(bundles, tmp_path):
    copies = []
    for n in range(8):  # enough work to be stopped in the middle of it
        copies.append(tmp_path / f"copy{n}.tar.gz")
        shutil.copy(bundles["Alpha"], copies[-1])
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    proc = subprocess.Popen([*GP2BM, "compare", *map(str, copies), "--suite",
                             str(bundles["suite"])], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)  # fmt: skip
    deadline = time.monotonic() + 60
    while not _scratch(scratch) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the comparison ended before a verification began"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("gp2bm: error: gp2bm compare stopped by SIGTERM")
    assert "Traceback" not in err
    assert _scratch(scratch) == []


# ------------------------------------------------------------------------- fast checks


def test_bad_input_is_one_line_and_exit_2(cli, tmp_path):
    some = tmp_path / "a.tar.gz"
    some.write_bytes(b"not a bundle")
    (tmp_path / "sub").mkdir()
    cases = [
        ([tmp_path / "nowhere.tar.gz"], "nowhere.tar.gz: no such bundle"),
        ([some, tmp_path / "sub" / ".." / "a.tar.gz"], "given twice"),
        ([some, "--accept", "everything"], "--accept everything: no such reservation"),
        ([some, "--suite", tmp_path / "none.yaml"], "none.yaml"),
        ([some, "--template", tmp_path / "none.xlsx"], "--template"),
    ]
    for args, words in cases:
        res = cli("compare", *args)
        assert res.code == 2, (args, res.out, res.err)
        assert words in res.err and len(res.err.strip().splitlines()) == 1, res.err


def test_held_to_the_rfps_workbook_a_bundle_without_one_is_set_apart(cli, bundles, tmp_path):
    """compare --template holds every bundle's RFP template to the evaluator's copy, as
    verify --template does: a bundle with no filled RFP workbook is not verified then."""
    own = tmp_path / "Benchmark_Results.xlsx"
    Workbook().save(own)  # any workbook: these bundles hold no RFP workbook to compare
    res = cli("compare", bundles["Alpha"], bundles["Beta"], "--suite", bundles["suite"],
              "--template", own, "--json")  # fmt: skip
    assert res.code == 1, res.out + res.err
    data = res.json()
    assert data["ranking"] == [] and len(data["apart"]) == 2
    for entry in data["apart"]:
        texts = [f["text"] for f in entry["findings"]]
        assert any("--template Benchmark_Results.xlsx: the bundle holds no filled RFP" in t
                   for t in texts), texts  # fmt: skip


def test_an_unreadable_bundle_is_set_apart_with_the_reason(cli, tmp_path):
    some = tmp_path / "a.tar.gz"
    some.write_bytes(b"not a bundle")
    res = cli("compare", some, "--json")
    assert res.code == 1 and "Traceback" not in res.err
    data = json.loads(res.out)
    (apart,) = data["apart"]
    assert data["ranking"] == [] and apart["findings"][0]["class"] == "unreadable"
    assert "a.tar.gz" in apart["findings"][0]["text"]


def test_a_claim_is_judged_against_the_published_results():
    """The real atlas: 8x H100-SXM5-80GB ResNet on one node, as published (about 13 min),
    and far faster than anything published; no accelerator: no judgement."""
    atlas = load_atlas()
    h100 = {"accelerator": "H100-SXM5-80GB", "accelerators_per_node": 8, "nodes": 1}
    fastest = min(r.minutes for r in atlas.results("resnet", "H100-SXM5-80GB", 8, 1))
    assert judge(atlas, "resnet", h100, fastest * 1.01)["verdict"] == PLAUSIBLE
    far = judge(atlas, "resnet", h100, fastest / 3)
    assert far["verdict"] == IMPLAUSIBLE and "faster than any of" in far["sentence"]
    none = {"accelerator": "", "accelerators_per_node": 0, "nodes": 1}
    assert judge(atlas, "resnet", none, 10.0)["verdict"] == CANNOT_JUDGE


def test_a_scratch_folders_path_is_written_as_such():
    from gp2bm.handin.scratch import unscratched

    temp = tempfile.gettempdir()
    text = f"{temp}/gp2bm-verify-123-abc_d/bundle/x/result_0.txt: line 3"
    assert unscratched(text) == "<scratch>/bundle/x/result_0.txt: line 3"
    assert unscratched("/srv/gp2bm-verify-1-x/y") == "/srv/gp2bm-verify-1-x/y"

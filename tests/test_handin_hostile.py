"""The hand-in against hostile input and faults: links out of a campaign, bundles built to
exhaust verify, edited claims with recomputed sums, formula injection into spreadsheets, bad
workbook answers, killed and stopped commands, a full output device."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import closing
from pathlib import Path

import pytest
from freeze import ATTEMPTS, frozen_when
from openpyxl import load_workbook
from test_report_campaign import INVENTORY, ORG, RFP_WORKBOOK, SYSTEM, synthetic_campaign
from test_verify import _pack, _resum, _unpack

from gp2bm.errors import Interrupted
from gp2bm.evaluation.checkerside import CheckerSide
from gp2bm.files import safetar
from gp2bm.handin.bundle import build_bundle
from gp2bm.handin.scratch import scratch
from gp2bm.results.checkpool import can_fork

GP2BM = [sys.executable, "-m", "gp2bm"]
SECRET = "root:$6$not-a-real-hash:19000:0:99999:7:::\n"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    result = build_bundle(synthetic_campaign(base), base / "handin.tar.gz")
    assert result.valid and result.package_check.passed, result.problems
    return result.output


# ---------------------------------------------------------------------------- links


@pytest.mark.reliability("symlink-out-of-campaign")
@pytest.mark.parametrize(
    "rel",
    [
        "records/bert/telemetry_3.csv",
        f"{ORG}/results/{SYSTEM}/bert/result_3.txt",
        "records/resnet/run_1.json",
        "inventory.json",
    ],
)
def test_a_link_out_of_the_campaign_is_refused(cli, tmp_path, rel):
    root = synthetic_campaign(tmp_path)
    outside = tmp_path / "shadow"
    outside.write_text(SECRET)
    (root / rel).unlink()
    (root / rel).symlink_to(outside)
    bundle = tmp_path / "b.tar.gz"
    res = cli("package", root, "-o", bundle)
    assert res.code == 2 and res.err.count("\n") == 1, res.err
    assert str(root / rel) in res.err and "outside the campaign" in res.err
    assert not bundle.exists()
    assert not list(tmp_path.glob(".b.tar.gz.*"))


@pytest.mark.reliability("symlink-out-of-campaign")
def test_a_link_inside_the_campaign_is_carried_as_its_file(cli, tmp_path):
    root = synthetic_campaign(tmp_path)
    tele = root / "records" / "bert" / "telemetry_3.csv"
    tele.unlink()
    tele.symlink_to(root / "records" / "bert" / "telemetry_2.csv")
    bundle = tmp_path / "b.tar.gz"
    assert cli("package", root, "-o", bundle).code == 0
    with tarfile.open(bundle) as tar:
        member = tar.getmember("b/records/bert/telemetry_3.csv")
        assert member.isreg()
        assert tar.extractfile(member).read() == tele.read_bytes()
    assert cli("verify", bundle).code == 0


@pytest.mark.reliability("symlink-out-of-campaign")
def test_verify_fails_a_bundle_that_carries_a_link(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    tele = top / "records" / "bert" / "telemetry_3.csv"
    tele.unlink()
    tele.symlink_to("../../inventory.json")
    res = cli("verify", _pack(top, tmp_path / "t.tar.gz"))
    assert res.code == 1
    assert "records/bert/telemetry_3.csv: a link, which the bundle never holds" in res.out
    tele.unlink()
    tele.symlink_to("/etc/passwd")
    res = cli("verify", _pack(top, tmp_path / "u.tar.gz"))
    assert res.code == 1 and "outside the archive refused" in res.err
    assert res.err.count("\n") == 1


# ---------------------------------------------------------------------------- bounds


def _bomb(path: Path, size: int) -> Path:
    """A gzip tar whose one member's header declares ``size`` bytes of zeros; only its first
    MiB is written: a bounded reader refuses at the header and never gets further."""
    with gzip.open(path, "wb", compresslevel=1) as gz:
        info = tarfile.TarInfo("handin/org/results/sys/bert/result_0.txt")
        info.size = size
        gz.write(info.tobuf(format=tarfile.PAX_FORMAT))
        gz.write(b"\0" * (1 << 20))
    return path


@pytest.mark.reliability("verify-resource-bounds")
@pytest.mark.parametrize("size", [10 << 30, 2 << 30, 300 << 20])
def test_a_member_past_the_size_limit_is_refused_at_its_header(cli, tmp_path, size):
    start = time.monotonic()
    res = cli("verify", _bomb(tmp_path / "bomb.tar.gz", size))
    assert res.code == 1 and res.err.count("\n") == 1, res.err
    assert f"{size} bytes, more than the 256 MiB a member may hold" in res.err
    assert time.monotonic() - start < 10


def _tar(path: Path, members: list[tuple[str, bytes]], pax: dict | None = None) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT, compresslevel=1) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if pax:
                info.pax_headers = pax
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.reliability("verify-resource-bounds")
def test_member_count_total_size_and_long_headers_are_bounded(tmp_path):
    small = safetar.Limits(members=10, member_bytes=100, total_bytes=250)
    many = _tar(tmp_path / "many.tar.gz", [(f"t/{i}", b"x") for i in range(11)])
    with pytest.raises(safetar.UnsafeMember, match="more than 10 members refused"):
        safetar.extract(many, tmp_path / "a", limits=small)
    big = _tar(tmp_path / "big.tar.gz", [(f"t/{i}", b"x" * 90) for i in range(3)])
    with pytest.raises(safetar.UnsafeMember, match="add up to more than"):
        safetar.extract(big, tmp_path / "b", limits=small)
    assert not (tmp_path / "b" / "t" / "0").exists()  # refused before anything is written
    header = _tar(tmp_path / "pax.tar.gz", [("t/a", b"x")], pax={"comment": "y" * (2 << 20)})
    with pytest.raises(safetar.UnsafeMember, match="tar header block of .* bytes"):
        safetar.extract(header, tmp_path / "c", limits=safetar.Limits())


@pytest.mark.reliability("verify-resource-bounds")
def test_a_huge_log_is_refused_before_any_checker_reads_it(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    log = top / ORG / "results" / SYSTEM / "bert" / "result_3.txt"
    with open(log, "ab") as fh:
        fh.write(b":::MLLOG " + b"x" * 100 + b"\n")
        fh.write(b"y" * (9 << 20))
    _resum(top, f"{ORG}/results/{SYSTEM}/bert/result_3.txt")
    start = time.monotonic()
    res = cli("verify", _pack(top, tmp_path / "t.tar.gz"))
    assert res.code == 1 and res.err.count("\n") == 1, res.err
    assert "result_3.txt" in res.err and "a result log may hold at most 8 MiB" in res.err
    assert time.monotonic() - start < 20


# ---------------------------------------------------------------------------- edited claims


def _edit(top: Path, rel: str, old: str, new: str) -> None:
    path = top / rel
    text = path.read_text()
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1))
    _resum(top, rel)


def _score(top: Path) -> float:
    return json.loads((top / "gp2bm-claims.json").read_text())["score"]


@pytest.mark.reliability("verify-edited-claims")
def test_an_edited_score_in_the_bundle_json_readme_and_page_is_found(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    score = _score(top)
    better = score * 1.1
    meta = json.loads((top / "gp2bm-bundle.json").read_text())
    meta["score"] = better
    (top / "gp2bm-bundle.json").write_text(json.dumps(meta, indent=2) + "\n")
    _resum(top, "gp2bm-bundle.json")
    _edit(top, "README.md", f"**{score:.6f}**", f"**{better:.6f}**")
    _edit(top, "reports/report.html", f'id="score">{score:.6f}<', f'id="score">{better:.6f}<')
    res = cli("verify", _pack(top, tmp_path / "t.tar.gz"))
    assert res.code == 1
    assert f"gp2bm-bundle.json: score: claimed {better!r}" in res.out
    assert "README.md: differs from the README its logs give" in res.out
    assert f"{better:.6f}" in res.out  # the line shows what the bundle says
    assert "reports/report.html: differs from the page its logs give" in res.out


@pytest.mark.reliability("verify-edited-claims")
def test_an_edited_run_record_is_found(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    rel = "records/bert/run_3.json"
    record = json.loads((top / rel).read_text())
    record["seed"] += 1
    record["minutes"] -= 1.0
    (top / rel).write_text(json.dumps(record))
    _resum(top, rel)
    res = cli("verify", _pack(top, tmp_path / "t.tar.gz"))
    assert res.code == 1
    assert f"{rel}: seed (the log's seed): claimed {record['seed']}" in res.out
    assert f"{rel}: minutes (the log's minutes): claimed {record['minutes']!r}" in res.out


@pytest.mark.reliability("verify-edited-claims")
def test_gpus_claimed_where_the_inventory_found_none(cli, tmp_path):
    root = synthetic_campaign(tmp_path)
    inventory = dict(INVENTORY, gpus={"driver_version": "535.104.05", "count": 0, "gpus": []})
    (root / "inventory.json").write_text(json.dumps(inventory))
    desc_path = root / ORG / "systems" / f"{SYSTEM}.json"
    desc = json.loads(desc_path.read_text())
    desc["accelerators_per_node"] = "8"
    desc_path.write_text(json.dumps(desc))
    bundle = tmp_path / "b.tar.gz"
    assert cli("package", root, "-o", bundle).code == 0
    res = cli("verify", bundle)
    assert res.code == 1
    assert (
        f"{ORG}/systems/{SYSTEM}.json: accelerators_per_node: claimed '8', the inventory "
        "(inventory.json) gives '0'"
    ) in res.out


@pytest.mark.reliability("verify-edited-claims")
def test_an_edited_workbook_cell_is_found(cli, bundle, tmp_path):
    top = _unpack(bundle, tmp_path)
    rel = "reports/results.xlsx"
    wb = load_workbook(top / rel)
    ws = wb["Runs"]
    ws["E2"] = ws["E2"].value - 1  # one run a minute faster
    wb.save(top / rel)
    _resum(top, rel)
    res = cli("verify", _pack(top, tmp_path / "t.tar.gz"))
    assert res.code == 1 and f"{rel}: Runs!E2 (resnet): claimed 29, recomputed 30" in res.out


@pytest.mark.reliability("verify-edited-claims")
def test_the_untouched_bundle_lists_what_it_cannot_verify(cli, bundle):
    data = cli("verify", bundle, "--json").json()
    assert data["ok"], data
    unverifiable = "\n".join(data["unverifiable"])
    assert "gp2bm-bundle.json: created" in unverifiable
    assert "reports/report.html: when it was generated" in unverifiable
    assert f"{ORG}/systems/{SYSTEM}.json:" in unverifiable and "vendor's words" in unverifiable


# ---------------------------------------------------------------------------- spreadsheets


INJECTED = '=cmd|"/c calc"!A1'


def _injected_campaign(tmp_path: Path) -> Path:
    root = synthetic_campaign(tmp_path)
    desc_path = root / ORG / "systems" / f"{SYSTEM}.json"
    desc = json.loads(desc_path.read_text())
    desc["hw_notes"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    desc_path.write_text(json.dumps(desc))
    log = root / ORG / "results" / SYSTEM / "bert" / "result_4.txt"
    log.write_text(log.read_text().replace('"status": "success"', '"status": "-2+3+cmd|x"'))
    return root


@pytest.mark.reliability("formula-injection")
def test_text_stays_text_in_the_csv_and_workbook(cli, tmp_path):
    root = _injected_campaign(tmp_path)
    out = tmp_path / "r"
    res = cli("report", root, "--csv", out / "r.csv", "--xlsx", out / "r.xlsx")
    assert res.code == 0, res.err
    with open(out / "r.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    run = next(r for r in rows if r["file"] == "result_4.txt" and r["benchmark"] == "bert")
    assert run["status"] == "'-2+3+cmd|x"
    assert float(run["minutes"]) > 0 and not run["minutes"].startswith("'")
    for row in rows:
        for key, value in row.items():
            assert not value.startswith(("=", "+", "@", "\t", "\r")), (key, value)
    wb = load_workbook(out / "r.xlsx")
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
    texts = [c for c in cells if isinstance(c.value, str) and c.value[:1] in "=+-@"]
    assert {c.value for c in texts} >= {"-2+3+cmd|x", "@SUM(1+1)*cmd|' /C calc'!A0"}
    assert all(c.data_type == "s" and c.quotePrefix for c in texts)
    minutes = [c for c in cells if c.data_type == "n"]
    assert minutes and all(isinstance(c.value, (int, float)) for c in minutes)


@pytest.mark.reliability("formula-injection")
def test_text_stays_text_in_the_rfp_workbook(cli, tmp_path):
    if not RFP_WORKBOOK.is_file():
        pytest.skip(f"the RFP workbook is not available: {RFP_WORKBOOK} is absent")
    root = _injected_campaign(tmp_path)
    changes = tmp_path / "changes.txt"
    changes.write_text(INJECTED + "\n")
    out = tmp_path / "rfp.xlsx"
    res = cli("report", root, "--template", RFP_WORKBOOK, "--xlsx", out, "--changes", changes,
              "--test", "compiler=+cmd|calc", "--test", "libraries=@SUM(A1)",
              "--proposed", "nodes=4")  # fmt: skip
    assert res.code == 0, res.err
    ws = load_workbook(out)["MLPerf"]
    for coord, text in (("B23", INJECTED), ("C15", "+cmd|calc"), ("C17", "@SUM(A1)")):
        assert ws[coord].value == text and ws[coord].data_type == "s", coord
        assert ws[coord].quotePrefix, coord
    assert ws["D7"].value == 4 and ws["D7"].data_type == "n"
    assert isinstance(ws["C8"].value, float) and ws["C8"].data_type == "n"


@pytest.mark.reliability("bad-proposed-values")
@pytest.mark.parametrize(
    "option",
    ["bert=abc", "nodes=-4", "nodes=2.5", "nodes=nan", "resnet=inf", "bert=-1", "mpi_tasks=0"],
)
def test_bad_workbook_answers_are_refused_before_anything_is_written(cli, tmp_path, option):
    root = synthetic_campaign(tmp_path)
    out = tmp_path / "rfp.xlsx"
    template = RFP_WORKBOOK if RFP_WORKBOOK.is_file() else tmp_path / "any.xlsx"
    res = cli("report", root, "--template", template, "--xlsx", out, "--proposed", option)
    key, value = option.split("=")
    assert res.code == 2 and res.err.count("\n") == 1, res.err
    assert f"--proposed {key}={value}: expected" in res.err
    assert not out.exists() and not (root / "reports").exists()
    bundle = tmp_path / "b.tar.gz"
    res = cli("package", root, "-o", bundle, "--template", template, "--proposed", option)
    assert res.code == 2 and f"--proposed {key}={value}: expected" in res.err
    assert not bundle.exists()
    res = cli("report", root, "--template", template, "--xlsx", out, "--test", option)
    assert res.code == 2 and f"--test {key}={value}: expected" in res.err


# ---------------------------------------------------------------------------- faults


def _scratch_of(pid: int) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"gp2bm-*-{pid}-*"))


def _start(args: list, tmp_path: Path) -> subprocess.Popen:
    """gp2bm in a process of its own; its output goes to files (a killed gp2bm's checker
    processes would hold pipes open)."""
    # its scratch under this test's temporary folder (TMPDIR: tempfile.gettempdir's)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), TMPDIR=tempfile.gettempdir())
    out = open(tmp_path / "stdout", "w")  # noqa: SIM115 - closed by _finish
    err = open(tmp_path / "stderr", "w")  # noqa: SIM115 - closed by _finish
    proc = subprocess.Popen([*GP2BM, *map(str, args)], stdout=out, stderr=err, env=env)
    proc.files = (out, err, tmp_path)
    return proc


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(p) for p in task.read_text().split()]
    return found


def _finish(proc: subprocess.Popen) -> str:
    """Wait for the process; its stderr."""
    proc.wait(timeout=60)
    out, err, folder = proc.files
    out.close()
    err.close()
    return (folder / "stderr").read_text()


def _scratch_of_job(proc: subprocess.Popen, job: str) -> list[Path]:
    return list(Path(tempfile.gettempdir()).glob(f"gp2bm-{job}-{proc.pid}-*"))


def _stopped_inside_the_work(
    args: list, tmp_path: Path, job: str, after: float = 0.0
) -> subprocess.Popen:
    """gp2bm started and frozen (SIGSTOP) while its scratch folder is there, so inside the
    work, with its SIGTERM handler set: what a signal then meets does not depend on how fast
    the work goes (``freeze``). ``after``: seconds to let it work once the folder is there."""
    attempts = iter(range(ATTEMPTS))
    seen: dict[int, float] = {}

    def start() -> subprocess.Popen:
        folder = tmp_path / f"attempt{next(attempts)}"
        folder.mkdir()
        return _start(args, folder)

    def inside(proc: subprocess.Popen) -> bool:
        if not _scratch_of_job(proc, job):
            return False
        return time.monotonic() - seen.setdefault(proc.pid, time.monotonic()) >= after

    return frozen_when(start, inside, f"the work of gp2bm {job}")


@pytest.mark.reliability("handin-interrupted")
@pytest.mark.parametrize("after", [0.0, 0.2])
@pytest.mark.parametrize("job", ["package", "verify"])
def test_sigterm_stops_with_one_line_and_leaves_nothing(bundle, tmp_path, job, after):
    if job == "package":
        args = ["package", synthetic_campaign(tmp_path), "-o", tmp_path / "b.tar.gz"]
    else:
        args = ["verify", bundle]
    proc = _stopped_inside_the_work(args, tmp_path, job, after)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGCONT)
    err = _finish(proc)
    assert proc.returncode == 130, err
    assert err.count("\n") == 1 and f"gp2bm {job} stopped by SIGTERM" in err, err
    assert "Traceback" not in err
    assert not _scratch_of(proc.pid)
    assert not (tmp_path / "b.tar.gz").exists() and not list(tmp_path.glob(".b.tar.gz.*"))


def _keep_writing(folder: str) -> None:
    """A side job that writes files into ``folder`` for as long as it lives (20 s at most)."""
    end = time.monotonic() + 20
    n = 0
    while time.monotonic() < end:
        (Path(folder) / f"f{n}").write_bytes(b"x")
        n += 1


@pytest.mark.reliability("handin-interrupted")
def test_a_stopped_verify_ends_its_side_before_removing_the_folder_it_writes_into():
    """Before: the package checker's scratch folder was removed while the side process still
    wrote into it, and stayed (found by `verify` stopped by SIGTERM in a CI run)."""
    if not can_fork():
        pytest.skip("threads are running in this test process: no side process can be forked")
    folder = None
    with pytest.raises(Interrupted):
        with CheckerSide() as side, scratch("check") as tmp, closing(side):
            folder = tmp
            side.start(_keep_writing, str(tmp))
            deadline = time.monotonic() + 20
            while not any(tmp.iterdir()):  # the side is writing
                assert time.monotonic() < deadline
                time.sleep(0.01)
            raise Interrupted("gp2bm verify stopped by SIGTERM")
    assert folder is not None and not folder.exists()


@pytest.mark.slow
@pytest.mark.reliability("handin-interrupted")
def test_a_killed_verify_or_package_is_cleaned_by_the_next(cli, bundle, tmp_path, monkeypatch):
    """The killed verify's scratch folder in a temporary folder of this test's own: any
    other gp2bm on the machine sweeps the shared one of the orphans it finds (as it
    should), which would take this one away before the test looks for it."""
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    proc = _stopped_inside_the_work(["verify", bundle], tmp_path, "verify")
    workers = _children(proc.pid)
    assert workers  # the side process that runs MLCommons' package checker, at least
    proc.kill()
    _finish(proc)
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in workers):  # they end without it
        assert time.monotonic() < deadline, [p for p in workers if Path(f"/proc/{p}").exists()]
        time.sleep(0.1)
    left = _scratch_of(proc.pid)
    assert left  # SIGKILL leaves it, named after the dead process
    partial = tmp_path / f".b.tar.gz.{proc.pid}.tmp"
    partial.write_bytes(b"half a bundle")
    res = cli("package", synthetic_campaign(tmp_path), "-o", tmp_path / "b.tar.gz")
    assert res.code == 0, res.err
    assert not any(p.exists() for p in left) and not partial.exists()


@pytest.mark.reliability("handin-interrupted")
def test_a_full_device_is_named(cli, tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    root = synthetic_campaign(tmp_path)
    for option in ("--csv", "--html", "--xlsx"):
        res = cli("report", root, option, "/dev/full")
        assert res.code == 2 and res.err.count("\n") == 1, res.err
        assert "/dev/full: No space left on device" in res.err
    proc = subprocess.run([*GP2BM, "report", root, "--xlsx", "/dev/full"], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    if RFP_WORKBOOK.is_file():
        res = cli("report", root, "--template", RFP_WORKBOOK, "--xlsx", "/dev/full")
        assert res.code == 2 and "/dev/full: No space left on device" in res.err
        assert Path("/dev/full").is_char_device()


def test_an_invalid_bundle_gives_its_problems_and_no_false_difference(cli, tmp_path):
    """Checker messages name files by absolute path (where the bundle was made, where it is
    verified): the reports holding them still compare equal."""
    from synth import BERT_MINUTES, write_run

    root = synthetic_campaign(tmp_path)
    write_run(root / ORG / "results" / SYSTEM / "bert", 3, "bert", BERT_MINUTES[3], seed=1000)
    record = root / "records" / "bert" / "run_3.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "seed": 1000}))
    bundle = tmp_path / "b.tar.gz"
    assert cli("package", root, "-o", bundle).code == 1  # written: two runs share a seed
    data = cli("verify", bundle, "--json").json()
    assert data["differences"] == [], data["differences"]
    assert "the logs give no valid score" in data["problems"]
    assert any("Seed checker failed" in p for p in data["problems"])

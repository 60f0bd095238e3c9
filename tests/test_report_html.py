"""The self-contained HTML report, and how headless Chromium shows it."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess

import pytest
from test_report_campaign import synthetic_campaign

from gp2bm.reports.claims import claims
from gp2bm.reports.html_report import read_claims, render_html
from gp2bm.reports.view import load_campaign

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def report(cli, tmp_path):
    root = synthetic_campaign(tmp_path)
    # a value that must be shown as text, never interpreted
    desc = root / "gp2bm" / "systems" / "node1.json"
    data = json.loads(desc.read_text())
    data["hw_notes"] = "<script>alert(1)</script> & </script>"
    desc.write_text(json.dumps(data))
    path = tmp_path / "report.html"
    res = cli("report", root, "--html", path)
    assert res.code == 0, res.err
    return root, path


def test_page_is_self_contained(report):
    root, path = report
    html = path.read_text(encoding="utf-8")
    # every src/href is inline data or an anchor: nothing is fetched
    for attr in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html):
        assert attr.startswith(("data:", "#")), attr
    assert "<link" not in html and "@import" not in html and "url(" not in html
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 4  # run times, eval accuracy, telemetry of each benchmark
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # the only script element is inert JSON: what verify compares
    assert re.findall(r"<script[^>]*>", html) == [
        '<script type="application/json" id="gp2bm-claims">'
    ]
    view = load_campaign(root)
    assert read_claims(path) == json.loads(json.dumps(claims(view)))
    assert f"{view.score.score:.4f}" in html


def test_sections_present(report):
    root, path = report
    html = path.read_text(encoding="utf-8")
    for heading in (
        "Score",
        "Time to train per run",
        "resnet runs",
        "bert runs",
        "Eval accuracy",
        "Telemetry",
        "Compliance",
        "Inventory",
        "System description",
        "Hardware inventory",
    ):
        assert f">{heading}</h" in html, heading
    assert html.count("dropped (fastest)") >= 2 and html.count("dropped (slowest)") >= 2
    assert "535.104.05" in html  # the inventory's driver version
    assert "<details><summary>nvidia_smi.query</summary>" in html  # long raw output folded


def test_invalid_campaign_page_says_so(tmp_path):
    from synth import write_run

    root = synthetic_campaign(tmp_path, telemetry=False)
    bert = root / "gp2bm" / "results" / "node1" / "bert"
    for n in (0, 1):
        write_run(bert, n, "bert", 20.0, status="aborted")
    html = render_html(load_campaign(root))
    assert 'id="score">no score<' in html
    assert "2 failed runs, at most 1 allowed" in html
    assert "No telemetry samples" in html


def _png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_chromium_renders_the_report(report, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    root, path = report
    profile = tmp_path / "chromium-profile"
    shot = tmp_path / "report.png"
    common = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    proc = subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1280,2400", path.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.is_file(), proc.stderr.decode(errors="replace")[-2000:]
    assert _png_size(shot) == (1280, 2400)
    assert shot.stat().st_size > 50_000  # text, tables and plots, not a blank page
    dom = subprocess.run(
        [*common, "--dump-dom", path.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
        text=True,
    ).stdout
    score = load_campaign(root).score.score
    assert f'id="score">{score:.4f}<' in dom
    assert "RFP score" in dom

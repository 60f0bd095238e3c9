"""The self-contained HTML report, and how headless Chromium shows it."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from html import escape
from pathlib import Path

import pytest
from test_report_campaign import synthetic_campaign, unfilled_smoke_campaign

from gp2bm.reports.claims import claims
from gp2bm.reports.html_report import read_claims, render_html, write_html
from gp2bm.reports.humanize import human_value
from gp2bm.reports.nested import flatten
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
    assert len(images) == 5  # run times, published results, eval accuracy, telemetry of each
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # the only script element is inert JSON: what verify compares
    assert re.findall(r"<script[^>]*>", html) == [
        '<script type="application/json" id="gp2bm-claims">'
    ]
    view = load_campaign(root)
    assert read_claims(path) == json.loads(json.dumps(claims(view)))
    assert f"{view.score.score:.6f}" in html


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
    assert f'id="score">{score:.6f}<' in dom
    assert "RFP score" in dom


# ------------------------------------------- the lower half, on a real smoke campaign


@pytest.fixture(scope="module")
def smoke_page(tmp_path_factory) -> tuple[Path, Path]:
    """The page of the smoke campaign (runs of a fraction of a second, 2 telemetry samples
    each) with the system description a vendor has not filled in yet."""
    root = unfilled_smoke_campaign(tmp_path_factory)
    path = write_html(load_campaign(root), tmp_path_factory.mktemp("page") / "report.html")
    return root, path


def _text_of(page: str) -> str:
    """The page without its drawn plots and its claims JSON: what a person reads."""
    page = re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', page)
    return re.sub(r'<script type="application/json".*?</script>', "", page, flags=re.DOTALL)


def test_lower_half_reads_for_a_person(smoke_page):
    root, path = smoke_page
    page = _text_of(path.read_text(encoding="utf-8"))
    # the banner, at the top, names what is missing
    assert 0 <= page.find('<div class="banner" id="incomplete">') < page.find("<h2>Score</h2>")
    assert "system description" in page and "not filled in" in page
    # no Python in the cells: booleans are yes/no, no exception repr, no None
    assert re.search(r"<td[^>]*>\s*(True|False|None)\s*</td>", page) is None
    assert re.search(r"[A-Za-z]+(Error|Exception)\(", page) is None
    assert ">yes</td>" in page or ">no</td>" in page
    # every number of the inventory shown with its unit, never as raw bytes
    inventory = json.loads((root / "inventory.json").read_text())
    shown = 0
    for key, value in flatten(inventory):
        if isinstance(value, (bool, int, float)):
            assert f"<td>{escape(human_value(key, value))}</td>" in page, key
            shown += 1
        if key.endswith("_bytes") and isinstance(value, int) and value >= 1 << 20:
            assert f">{value}<" not in page, key
            assert human_value(key, value).endswith(("MiB", "GiB", "TiB")), key
    assert shown > 5 and "GiB" in page
    # the runs were sampled twice each: the page says so instead of drawing dots
    assert "too few samples" in page.lower() and "(2 samples)" in page
    assert "No telemetry samples" not in page


def test_chromium_screenshot_of_the_smoke_page(smoke_page, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    from PIL import Image

    _, path = smoke_page
    shot = tmp_path / "smoke.png"
    proc = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1280,2400", path.as_uri()],
        capture_output=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert shot.is_file(), proc.stderr.decode(errors="replace")[-2000:]
    assert _png_size(shot) == (1280, 2400) and shot.stat().st_size > 50_000
    image = Image.open(shot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 100  # text, tables, plots: not one colour
    # the banner's red border is on the first screen
    top = image.crop((0, 0, 1280, 400))
    red = sum(
        1
        for x in range(0, 1280, 2)
        for y in range(400)
        if (pixel := top.getpixel((x, y)))[0] > 170 and pixel[1] < 80 and pixel[2] < 80
    )
    assert red > 250, red

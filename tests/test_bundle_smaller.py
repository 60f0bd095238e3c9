"""The smaller ways a bundle, a campaign or a cache could say something other than what the
logs give: each is a clear finding or a one-line error, never a crash name. Built from a real
smoke campaign and its bundle, forged as a careful forger does it (extracted, changed,
SHA256SUMS recomputed), or by appending to the archive as it was handed in."""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
from test_report_campaign import ORG, SYSTEM, copy_campaign
from test_verdict import forged_bundle

from gp2bm.files.yamlfile import load_validated
from gp2bm.results.verdictcache import VerdictCache
from gp2bm.spec.suite import ComplianceMode, load_suite

RESULTS = f"{ORG}/results/{SYSTEM}"
CRASH_WORDS = ("Traceback", "crashed", "KeyError", "FileNotFoundError")


def findings(cli, target: Path, suite: Path) -> tuple[int, list[str], str]:
    """verify's exit code, the texts of its findings, its stderr; never a crash."""
    res = cli("verify", target, "--suite", suite, "--json")
    assert res.code in (0, 1), res.out[-2000:] + res.err
    assert not any(w in res.out + res.err for w in CRASH_WORDS), res.out[-3000:] + res.err
    return res.code, [f["text"] for f in json.loads(res.out)["findings"]], res.err


def assert_found(code: int, texts: list[str], *words: str) -> str:
    hits = [t for t in texts if all(w in t for w in words)]
    assert code == 1 and hits, (words, texts)
    return hits[0]


def one_line(res) -> str:
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and not any(w in res.err for w in CRASH_WORDS), res.err
    return lines[0]


# ------------------------------------------------------------------------------ archive


def _second_tar(readme: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("handin/README.md")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
    return buf.getvalue()


@pytest.mark.slow
@pytest.mark.reliability("bundle-trailing-data")
@pytest.mark.parametrize("how", ["garbage-after-gzip", "second-gzip-tar", "second-plain-tar"])
def test_bytes_after_the_archive_are_refused(cli, honest, suite, tmp_path, how):
    forged = tmp_path / ("forged.tar" if how == "second-plain-tar" else "forged.tar.gz")
    other = _second_tar(b"# Verified: all good\n")
    data = {
        "garbage-after-gzip": lambda: honest.read_bytes() + b"HIDDEN TEXT after the stream",
        "second-gzip-tar": lambda: honest.read_bytes() + gzip.compress(other),
        "second-plain-tar": lambda: gzip.decompress(honest.read_bytes()) + other,
    }[how]()
    forged.write_bytes(data)
    if how != "garbage-after-gzip" and shutil.which("tar"):  # what `tar -i` would show
        listed = subprocess.run(["tar", "-tif", forged], capture_output=True, text=True)
        assert listed.stdout.count("handin/README.md") == 2, listed.stdout[-500:]
    res = cli("verify", forged, "--suite", suite)
    line = one_line(res)
    assert res.code == 1, res.err
    assert ("after the end of the tar archive" in line) != (how == "garbage-after-gzip"), line
    assert "after the end" in line and "refused" in line


# --------------------------------------------------------------------------- SHA256SUMS


@pytest.mark.slow
@pytest.mark.reliability("bundle-sums-listing")
def test_a_file_listed_twice_fails_as_sha256sum_does(cli, honest, suite, tmp_path):
    top = forged_bundle(honest, tmp_path, lambda top: None)
    sums = top / "SHA256SUMS"
    right = next(ln for ln in sums.read_text().splitlines() if ln.endswith("  README.md"))
    sums.write_text(f"{'0' * 64}  README.md\n" + sums.read_text())  # the wrong line first
    if shutil.which("sha256sum"):  # the README's own check fails on it
        check = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=top,
                               capture_output=True, text=True)  # fmt: skip
        assert check.returncode == 1 and "README.md: FAILED" in check.stdout, check.stdout
    code, texts, _ = findings(cli, top, suite)
    assert_found(code, texts, "SHA256SUMS: line", "lists 'README.md' a second time")
    # the right digest written twice is still a line `sha256sum -c` reads twice: refused
    sums.write_text(sums.read_text().replace(f"{'0' * 64}  README.md", right))
    code, texts, _ = findings(cli, top, suite)
    assert_found(code, texts, "lists 'README.md' a second time")


@pytest.mark.slow
@pytest.mark.reliability("bundle-sums-listing")
def test_sha256sums_listing_itself_is_named_so(cli, honest, suite, tmp_path):
    top = forged_bundle(honest, tmp_path, lambda top: None)
    sums = top / "SHA256SUMS"
    sums.write_text(sums.read_text() + f"{'a' * 64}  SHA256SUMS\n")
    code, texts, _ = findings(cli, top, suite)
    assert_found(code, texts, "lists SHA256SUMS itself")
    assert not any("listed in SHA256SUMS but missing" in t for t in texts), texts


# -------------------------------------------------------------------------------- names


def _second_org(top: Path) -> None:
    shutil.copytree(top / ORG, top / "other-org")


def _hidden(top: Path) -> None:
    (top / RESULTS / "resnet" / ".result_9.txt").write_bytes(
        (top / RESULTS / "resnet" / "result_0.txt").read_bytes()
    )


def _twin(top: Path) -> None:
    (top / RESULTS / "resnet" / "RESULT_0.txt").write_bytes(
        (top / RESULTS / "resnet" / "result_0.txt").read_bytes()
    )


@pytest.mark.slow
@pytest.mark.reliability("bundle-names")
@pytest.mark.parametrize(
    ("forge", "words"),
    [
        (_second_org, ("other-org/", "a second organisation's tree")),
        (_hidden, (f"{RESULTS}/resnet/.result_9.txt", "a hidden name")),
        (_twin, ("result_0.txt", "only in case")),
    ],
    ids=["second-org", "hidden-file", "case-twin"],
)
def test_names_a_bundle_never_holds_are_findings(cli, honest, suite, tmp_path, forge, words):
    top = forged_bundle(honest, tmp_path, forge)
    code, texts, _ = findings(cli, top, suite)
    assert_found(code, texts, *words)


@pytest.mark.slow
@pytest.mark.reliability("duplicate-evaluation")
def test_a_second_evaluation_of_one_epoch_is_a_finding(cli, honest, suite, tmp_path):
    def repeat(top: Path) -> None:
        log = top / RESULTS / "resnet" / "result_1.txt"
        lines = log.read_text().splitlines(keepends=True)
        last = max(i for i, ln in enumerate(lines) if '"key": "eval_accuracy"' in ln)
        lines.insert(last + 1, lines[last])
        log.write_text("".join(lines))

    top = forged_bundle(honest, tmp_path, repeat)
    code, texts, _ = findings(cli, top, suite)
    assert_found(code, texts, "resnet/result_1.txt", "a second evaluation of epoch")


# ---------------------------------------------------------------------- package checker


def _bert_in_resnet(top: Path) -> None:
    shutil.copy(top / RESULTS / "bert" / "result_0.txt", top / RESULTS / "resnet" / "result_4.txt")


def _no_system(top: Path) -> None:
    (top / ORG / "systems" / f"{SYSTEM}.json").unlink()


TREE_CASES = [
    (_bert_in_resnet, ("resnet/result_4.txt", "a 'bert' log in the 'resnet' folder")),
    (_no_system, (f"{ORG}/systems/{SYSTEM}.json", "missing")),
]


@pytest.mark.slow
@pytest.mark.reliability("package-checker-tree")
@pytest.mark.parametrize(("forge", "words"), TREE_CASES, ids=["bert-in-resnet", "no-system"])
def test_what_the_package_checker_cannot_read_is_named(cli, honest, suite, tmp_path, forge, words):
    top = forged_bundle(honest, tmp_path, forge)
    code, texts, _ = findings(cli, top, suite)
    assert_found(code, texts, "MLCommons' package checker fails", *words)


PACKAGE_CASES = [
    (_bert_in_resnet, (), 1, ("package checker failed", *TREE_CASES[0][1])),
    # package refuses a campaign without its system description in its own one line; with
    # --allow-incomplete it writes the bundle as incomplete and never runs the checker
    (_no_system, ("--allow-incomplete",), 0, ("incomplete: no system description",)),
]


@pytest.mark.slow
@pytest.mark.reliability("package-checker-tree")
@pytest.mark.parametrize(
    ("forge", "extra", "code", "words"), PACKAGE_CASES, ids=["bert-in-resnet", "no-system"]
)
def test_package_names_what_its_checker_cannot_read(
    cli, campaign, tmp_path, forge, extra, code, words
):
    root = copy_campaign(campaign, tmp_path / "campaign")
    forge(root)
    res = cli("package", root, "-o", tmp_path / "b.tar.gz", *extra)
    text = res.out + res.err
    assert res.code == code and all(w in text for w in words), text[-3000:]
    assert not any(w in text for w in CRASH_WORDS), text[-3000:]


# ---------------------------------------------------------------------------- YAML words


@pytest.mark.reliability("yaml-boolean-words")
def test_yaml_yes_no_on_off_are_never_silently_booleans(tmp_path):
    from campaign_helpers import write_suite

    path = write_suite(tmp_path / "suite")
    text = path.read_text()
    assert "rcp: false" in text and "compliance: strict" in text, text

    def load(old: str, new: str):
        (tmp_path / "suite" / "s.yaml").write_text(text.replace(old, new))
        return load_suite(tmp_path / "suite" / "s.yaml")

    assert load("rcp: false", "rcp: off").rcp is False  # the mode off, said so in the schema
    assert load("rcp: false", "rcp: on").rcp is True
    assert load("compliance: strict", "compliance: off").compliance == ComplianceMode.OFF
    for old, new, words in [
        ("rcp: false", "rcp: yes", ("checks.rcp", 'a boolean or one of "on", "off"')),
        ("nodes: 1", "nodes: 1\ntrial: no", ("at trial", "write true or false")),
    ]:
        with pytest.raises(Exception) as caught:
            load(old, new)
        message = str(caught.value)
        assert "s.yaml" in message and all(w in message for w in words), message
        assert "\n" not in message and type(caught.value).__name__ == "InputError"
    # a manifest's environment: `on` is the text it reads as, not True
    manifest = tmp_path / "suite" / "resnet.yaml"
    doc_text = manifest.read_text()
    assert "environment: {}" in doc_text, doc_text
    manifest.write_text(doc_text.replace("environment: {}", "environment:\n  FLAG: on", 1))
    assert load_validated(manifest, "benchmark")["environment"]["FLAG"] == "on"


# --------------------------------------------------------------------------- the records


@pytest.mark.slow
@pytest.mark.reliability("record-format-unknown")
def test_a_record_of_an_unknown_format_is_one_line(cli, campaign, honest, suite, tmp_path):
    def future(root: Path) -> None:
        record = root / "records" / "resnet" / "run_0.json"
        data = json.loads(record.read_text())
        record.write_text(json.dumps({**data, "schema": "gp2bm.run-record/99"}))

    root = copy_campaign(campaign, tmp_path / "campaign")
    future(root)
    for args in (("package", root, "-o", tmp_path / "b.tar.gz"), ("report", root)):
        res = cli(*args)
        line = one_line(res)
        assert res.code == 2 and "run_0.json" in line and "gp2bm.run-record/99" in line, line
        assert "does not know" in line
    assert not (tmp_path / "b.tar.gz").exists()
    top = forged_bundle(honest, tmp_path / "forged", future)
    code, texts, _ = findings(cli, top, suite)
    # verify reads it strictly: a cross-check finding, every other check still made
    assert_found(code, texts, "records/resnet/run_0.json", "an unknown record format")
    assert not any("cannot recompute" in t for t in texts), texts


# ------------------------------------------------------------------------------- cache


def _lose_compliance(root: Path, runs: tuple[int, ...]) -> None:
    """Runs whose logs lack a hyperparameter MLCommons' compliance checker requires."""
    for n in runs:
        log = root / RESULTS / "resnet" / f"result_{n}.txt"
        kept = [ln for ln in log.read_text().splitlines(True) if '"lars_epsilon"' not in ln]
        log.write_text("".join(kept))


@pytest.mark.slow
@pytest.mark.reliability("verdict-cache-sealed")
def test_a_poisoned_verdict_cache_never_makes_package_valid(cli, campaign, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cache = tmp_path / "xdg" / "gp2bm" / "verdicts"
    root = copy_campaign(campaign, tmp_path / "campaign")
    _lose_compliance(root, (0, 1))  # two failed runs of five: no ResNet result
    first = cli("package", root, "-o", tmp_path / "a.tar.gz")
    assert first.code == 1 and "no valid score" in first.err, first.err[-2000:]
    poisoned = 0
    for path in cache.rglob("*.json"):
        entry = json.loads(path.read_text())
        if entry.get("checker") == "compliance" and not entry["value"].get("passed"):
            entry["value"].update(passed=True, messages=[])
            path.write_text(json.dumps(entry))
            poisoned += 1
    assert poisoned == 2
    again = cli("package", root, "-o", tmp_path / "b.tar.gz")
    assert again.code == 1 and "no valid score" in again.err, again.err[-2000:]
    assert not any(w in again.err for w in CRASH_WORDS)


@pytest.mark.reliability("verdict-cache-sealed")
def test_cache_entries_are_sealed_with_the_owners_key(tmp_path):
    digest = "ab" * 32
    cache = VerdictCache(tmp_path / "cache")
    cache.store("compliance", "3.1.0", digest, {"passed": False})
    assert cache.load("compliance", "3.1.0", digest) == {"passed": False}
    key = tmp_path / "cache" / "key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_bytes()) == 32
    (entry_path,) = (tmp_path / "cache").rglob("*.json")
    entry = json.loads(entry_path.read_text())
    assert entry["gp2bm"] and entry["seal"]
    # an entry of another cache (another key), copied in: not this cache's word
    other = VerdictCache(tmp_path / "other")
    other.store("compliance", "3.1.0", digest, {"passed": True})
    (copied,) = (tmp_path / "other").rglob("*.json")
    shutil.copy(copied, entry_path)
    assert cache.load("compliance", "3.1.0", digest) is None
    # a key others may read or write: no entry is used, none written
    key.chmod(0o644)
    cache.store("compliance", "3.1.0", digest, {"passed": True})
    assert cache.load("compliance", "3.1.0", digest) is None


# --------------------------------------------------------------------- the page's stamp


@pytest.mark.slow
@pytest.mark.reliability("report-unverifiable-parts")
def test_a_generated_stamp_the_bundle_contradicts_is_a_finding(cli, honest, suite, tmp_path):
    def restamp(top: Path) -> None:
        page = top / "reports" / "report.html"
        text = re.sub(r"report generated \S+ by", "report generated 2031-01-01T00:00:00+00:00 by",
                      page.read_text())  # fmt: skip
        page.write_text(text)

    top = forged_bundle(honest, tmp_path, restamp)
    code, texts, _ = findings(cli, top, suite)
    assert_found(code, texts, "reports/report.html", "generated 2031-01-01", "after the bundle")


@pytest.mark.slow
@pytest.mark.reliability("report-unverifiable-parts")
def test_plot_pixels_are_listed_as_unverifiable(cli, honest, suite, tmp_path):
    def repaint(top: Path) -> None:
        page = top / "reports" / "report.html"
        png = base64.b64encode(b"\x89PNG\r\n\x1a\n another picture").decode()
        text, n = re.subn(r"base64,[A-Za-z0-9+/=]*\"", f'base64,{png}"', page.read_text())
        assert n >= 1
        page.write_text(text)

    top = forged_bundle(honest, tmp_path, repaint)
    res = cli("verify", top, "--suite", suite, "--json")
    data = json.loads(res.out)
    # the pixels are the one part of the page verify cannot redraw: it says so, every
    # character around them is still compared
    assert any("reports/report.html" in u and "plots' pixels" in u for u in data["unverifiable"])
    assert res.code == 0 and data["verified"], data["findings"]

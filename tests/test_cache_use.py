"""`report`, `package` and `status` take the checkers' verdicts of unchanged logs from the
content-addressed verdict cache; `verify` never does: it trusts nothing from before its run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report_campaign import synthetic_campaign

from gp2bm.results.mlcommons import compliance, rcp, seeds
from gp2bm.results.verdictcache import VerdictCache

pytestmark = pytest.mark.slow


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.rglob("*.json"))


def _poison(cache: Path) -> int:
    """Every cached compliance verdict turned into a failure, sealed as the cache's owner
    seals it (an entry edited by hand is not used: test_bundle_smaller): what reads the
    cache fails."""
    count = 0
    store = VerdictCache(cache)
    for path in _entries(cache):
        entry = json.loads(path.read_text())
        if entry.get("checker") == "compliance":
            value = {**entry["value"], "passed": False, "messages": ["poisoned cache entry"]}
            store.store(entry["checker"], entry["ruleset"], entry["digest"], value)
            count += 1
    return count


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "gp2bm" / "verdicts"


def _no_checker(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a checker ran although its verdict was cached")

    for module, name in (
        (compliance, "check_log"),
        (compliance, "check_compliance"),
        (seeds, "seed_records"),
        (rcp, "check_rcp"),
    ):
        monkeypatch.setattr(module, name, refuse)


def test_report_and_status_reuse_cached_verdicts(cli, tmp_path, cache, monkeypatch):
    root = synthetic_campaign(tmp_path)
    first = cli("report", root, "--json")
    assert first.code == 0 and first.json()["valid"], first.err
    assert len(_entries(cache)) >= 15 * 2  # compliance and seed records of each log, RCP
    with monkeypatch.context() as m:
        _no_checker(m)
        again = cli("report", root, "--json")
        assert again.code == 0 and again.json()["score"] == first.json()["score"]
        status = cli("status", "--campaign", root, "--json")
        assert status.code == 0, status.err
        assert status.json()["score"] == first.json()["score"]
        assert status.json()["benchmarks"]["bert"]["valid"]


def test_package_uses_the_cache_and_verify_never(cli, tmp_path, cache):
    root = synthetic_campaign(tmp_path)
    bundle = tmp_path / "b.tar.gz"
    assert cli("package", root, "-o", bundle).code == 0
    assert _poison(cache) >= 15
    report = cli("report", root, "--json")
    assert report.code == 0 and not report.json()["valid"]  # it read the poisoned verdicts
    status = cli("status", "--campaign", root)
    assert "poisoned" not in status.err and "score (" in status.out
    res = cli("verify", bundle, "--json")
    assert res.code == 0, res.out
    assert res.json()["ok"] and "poisoned" not in res.out
    res = cli("package", root, "-o", tmp_path / "c.tar.gz")
    assert res.code == 1 and "no valid score" in res.err

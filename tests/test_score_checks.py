"""MLCommons' checkers run in parallel and through the verdict cache: same verdicts, fewer
checks, and never a silent pass."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pytest
from synth import BERT_MINUTES, RESNET_MINUTES, write_benchmark

from gp2bm.results import checkpool
from gp2bm.results.mlcommons import compliance, rcp, seeds
from gp2bm.results.resultset import score_paths
from gp2bm.results.verdictcache import VerdictCache, default_cache_dir
from gp2bm.spec.suite import DEFAULT_SUITE, load_suite


@pytest.fixture(scope="module")
def suite():
    return load_suite(DEFAULT_SUITE)


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "org" / "results" / "sys"
    write_benchmark(root / "resnet", "resnet", RESNET_MINUTES)
    write_benchmark(root / "bert", "bert", BERT_MINUTES)
    return root


def test_checks_run_here_while_other_threads_run(results, suite, monkeypatch):
    monkeypatch.setattr(checkpool.threading, "active_count", lambda: 2)
    assert checkpool.can_fork() is False
    log = results / "resnet" / "result_0.txt"
    plan = checkpool.CheckPlan("3.1.0", {results / "resnet": (log,)})
    with checkpool.PendingChecks(plan, None, workers=2) as pending:
        assert pending.pool is None
        assert pending.verdicts().compliance[log].passed


def test_parallel_and_serial_checks_agree(results, suite):
    serial = score_paths([results], suite, workers=1).as_dict()
    parallel = score_paths([results], suite, workers=2).as_dict()
    assert parallel == serial
    assert serial["score"] is not None
    runs = serial["benchmarks"]["bert"]["runs"]
    assert all(r["compliance"]["passed"] for r in runs)


def test_seed_records_read_apart_give_the_checkers_verdict(tmp_path):
    folder = tmp_path / "resnet"
    paths = write_benchmark(folder, "resnet", RESNET_MINUTES, seed=7)
    records = {p: seeds.seed_records(p, "3.1.0") for p in paths}
    assert all(r.records and r.error is None for r in records.values())
    apart = seeds.check_seeds(paths, "3.1.0", records)
    direct = seeds.check_seeds(paths, "3.1.0")
    assert apart == direct and apart.passed is False


def test_one_parse_gives_what_each_checker_gives(tmp_path, mlperf_fixtures):
    folder = tmp_path / "resnet"
    good, bad, garbled, cut, empty = write_benchmark(folder, "resnet", RESNET_MINUTES)
    bad.write_text("".join(ln for ln in bad.read_text().splitlines(True) if "lars_eps" not in ln))
    garbled.write_text(garbled.read_text().replace('"key": "seed"', '"key": "seed", ]', 1))
    cut.write_text(cut.read_text()[:-40])
    empty.write_text("no MLLOG line\n")
    published = mlperf_fixtures / "v2.1/GIGABYTE/results/G492-ZD2_pytorch/bert/result_1.txt"
    for path, ruleset in [
        *((p, "3.1.0") for p in (good, bad, garbled, cut, empty)),
        (published, "2.1.0"),
    ]:
        both = compliance.check_log(path, ruleset)
        assert both == (
            compliance.check_compliance(path, ruleset),
            seeds.seed_records(path, ruleset),
        )
    good_log = compliance.check_log(good, "3.1.0")
    assert good_log[0].passed and good_log[1].records
    assert not compliance.check_log(bad, "3.1.0")[0].passed
    assert compliance.check_log(garbled, "3.1.0")[1].error
    assert not compliance.check_log(published, "2.1.0")[0].passed


# Where each checker function lives (the adapter of MLCommons' library).
CHECKERS = {
    "check_log": compliance,
    "check_compliance": compliance,
    "seed_records": seeds,
    "check_rcp": rcp,
}


def _count(monkeypatch, name):
    calls = []
    module = CHECKERS[name]
    real = getattr(module, name)

    def counted(*args, **kw):
        calls.append(args[0])
        return real(*args, **kw)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_cache_skips_unchanged_logs_only(results, suite, tmp_path, monkeypatch):
    cache = VerdictCache(tmp_path / "cache")
    first = score_paths([results], suite, cache=cache, workers=1).as_dict()
    calls = {
        name: _count(monkeypatch, name)
        for name in CHECKERS
    }
    again = score_paths([results], suite, cache=cache, workers=1).as_dict()
    assert again == first
    assert all(found == [] for found in calls.values()), calls
    # one changed byte: that log, and its folder's RCP check, are checked again
    log = results / "bert" / "result_3.txt"
    log.write_text(log.read_text().replace("gp2bm-test", "gp2bm-tesT"))
    score_paths([results], suite, cache=cache, workers=1)
    assert calls["check_log"] == [log]
    assert calls["check_rcp"] == [results / "bert"]


def test_cache_entry_is_tied_to_ruleset_and_content(tmp_path):
    cache = VerdictCache(tmp_path / "cache")
    cache.store("compliance", "3.1.0", "ab" * 32, {"x": 1})
    assert cache.load("compliance", "3.1.0", "ab" * 32) == {"x": 1}
    assert cache.load("compliance", "4.0.0", "ab" * 32) is None
    assert cache.load("compliance", "3.1.0", "cd" * 32) is None
    assert cache.load("rcp", "3.1.0", "ab" * 32) is None
    (entry,) = (tmp_path / "cache").rglob("*.json")
    entry.write_text('{"schema": "gp2bm.verdict/1", "value": ')  # half-written
    assert cache.load("compliance", "3.1.0", "ab" * 32) is None


def test_no_cache_unless_given(results, suite, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "gp2bm" / "verdicts"
    score_paths([results], suite, workers=2)
    assert not (tmp_path / "xdg").exists()


def _die(*args):
    os._exit(3)


def test_a_dead_checker_process_fails_the_check(results, suite, tmp_path, monkeypatch):
    if checkpool.available_cores() < 2 or not checkpool.can_fork():
        pytest.skip("the checks would run in this process")
    monkeypatch.setattr(checkpool, "check_log", _die)
    cache = VerdictCache(tmp_path / "cache")
    data = score_paths([results / "resnet"], suite, cache=cache, workers=2).as_dict()
    runs = data["benchmarks"]["resnet"]["runs"]
    assert all(r["role"] == "failed" for r in runs)
    assert all(any("checker process failed" in why for why in r["reasons"]) for r in runs)
    cached = [p.read_text() for p in (tmp_path / "cache").rglob("*.json")]
    assert not any("checker process failed" in text for text in cached)


RCP_FOLDERS = [
    ("v1.1/NVIDIA/results/dgxa100_ngc21.09_mxnet/resnet", "1.1.0"),
    ("v1.1/NVIDIA/results/dgxa100_ngc21.09_pytorch/bert", "1.1.0"),
    ("v2.0/SUPERMICRO/results/SYS-420GP-TNAR_mxnet/resnet", "2.0.0"),
    ("v2.0/SUPERMICRO/results/SYS-420GP-TNAR_pytorch/bert", "2.0.0"),
    ("v2.1/GIGABYTE/results/G492-ZD2_mxnet/resnet", "2.1.0"),
    ("v2.1/GIGABYTE/results/G492-ZD2_pytorch/bert", "2.1.0"),
    ("../nvidia-v4.0/resnet/results", "3.1.0"),
    ("../nvidia-v4.0/resnet/results", "4.0.0"),
    ("../nvidia-v4.0/bert/results", "4.0.0"),
]


@pytest.mark.parametrize(("folder", "ruleset"), RCP_FOLDERS)
def test_rcp_check_on_the_lines_it_reads_is_the_same(mlperf_fixtures, folder, ruleset):
    folder = mlperf_fixtures / folder
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    trimmed = rcp.check_rcp(folder, ruleset)
    assert trimmed == rcp.check_rcp(folder, ruleset, trimmed=False)
    assert trimmed.message  # a verdict was reached, not a crash
    assert "crashed" not in trimmed.message


@pytest.mark.parametrize(
    "kw",
    [{}, {"epochs": 35}, {"epochs": 30}, {"status": "aborted"}, {"prefix": "[1,0]<stdout>"}],
    ids=["near-mean", "faster", "too-fast", "aborted", "prefixed"],
)
def test_rcp_check_on_the_lines_it_reads_synthetic(tmp_path, kw):
    folder = tmp_path / "resnet"
    write_benchmark(folder, "resnet", RESNET_MINUTES[:3], **kw)
    write_benchmark(folder, "resnet", RESNET_MINUTES[3:], first=3, epochs=kw.get("epochs"))
    (folder / "result_9.txt").write_text("noise\r:::MLLOG {not json\nrun_stop\n")
    trimmed = rcp.check_rcp(folder, "3.1.0")
    assert trimmed == rcp.check_rcp(folder, "3.1.0", trimmed=False)


@pytest.mark.reliability("sigkill-scoring-workers")
def test_checker_processes_end_with_a_killed_gp2bm(results):
    """A gp2bm killed by SIGKILL while scoring leaves no checker process behind (its idle
    workers used to wait on their queue for good)."""
    import signal
    import subprocess
    import sys

    import psutil
    from freeze import frozen_when, live_children

    def start():
        cmd = [sys.executable, "-m", "gp2bm", "score", str(results), "--json"]
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    proc = frozen_when(start, lambda p: bool(live_children(p)), "its checker processes")
    workers = live_children(proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    for p in alive:
        p.kill()
    assert not alive, f"{len(alive)} checker processes outlived the killed gp2bm"


def test_seed_messages_name_logs_by_file_name(tmp_path):
    """Two runs with the same seed: the seed checker's message names the logs by file name,
    not by the absolute path of wherever the folder lies (which made messages differ from
    one copy of a folder to another, and got them cut inside the path)."""
    from synth import write_run

    folder = tmp_path / "a-rather-long-folder-name-that-would-not-fit" / "resnet"
    paths = [write_run(folder, n, "resnet", RESNET_MINUTES[n], seed=42) for n in range(5)]
    result = seeds.check_seeds(paths, "3.1.0")
    assert not result.passed and result.messages
    text = " ".join(result.messages)
    assert "result_0.txt" in text
    assert str(tmp_path) not in text


class _Inline(Executor):
    """A helper that has done each job by the time it is handed over."""

    def __init__(self, fail: BaseException | None = None):
        self.fail, self.jobs = fail, 0

    def submit(self, fn, /, *args, **kwargs):
        self.jobs += 1
        future: Future = Future()
        future.set_running_or_notify_cancel()
        if self.fail is not None:
            future.set_exception(self.fail)
        else:
            future.set_result(fn(*args, **kwargs))
        return future


class _Idle(Executor):
    """A helper that never starts anything."""

    def submit(self, fn, /, *args, **kwargs):
        return Future()


def _plan(results):
    folders = {
        f: tuple(sorted(f.glob("result_*.txt"))) for f in (results / "resnet", results / "bert")
    }
    return checkpool.CheckPlan("3.1.0", folders, rcp=False)


def _verdicts(plan, helper):
    with checkpool.PendingChecks(plan, None, workers=1, helper=helper) as pending:
        found = pending.verdicts()
        return found, pending


@pytest.mark.parametrize("helper", [None, _Inline(), _Idle(), _Inline(BrokenProcessPool())])
def test_a_helper_shares_the_logs_and_changes_no_verdict(results, helper):
    plan = _plan(results)
    expected, _ = _verdicts(plan, None)
    found, pending = _verdicts(plan, helper)
    assert found.compliance == expected.compliance and found.seeds == expected.seeds
    assert list(found.compliance) == plan.logs  # in the plan's order, whoever checked them
    if isinstance(helper, _Idle):  # nothing started there: every log taken back
        assert pending.futures == {}
    if isinstance(helper, _Inline):  # all done there (or its process lost: redone here)
        assert set(pending.futures) == set(plan.logs) and helper.jobs == len(plan.logs)


def test_a_helper_process_and_this_one_check_the_logs_together(results):
    plan = _plan(results)
    expected, _ = _verdicts(plan, None)
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as helper:
        found, pending = _verdicts(plan, helper)
    assert found.compliance == expected.compliance and found.seeds == expected.seeds
    assert len(pending.futures) < len(plan.logs)  # at least the last log was checked here

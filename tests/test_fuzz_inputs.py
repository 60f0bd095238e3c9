"""Hostile input: the MLLOG parser and the manifest loaders never crash or hang.

Every generated input either parses or gives gp2bm's one-line InputError; nothing else
may escape (no traceback reaches the user).
"""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gp2bm.errors import InputError
from gp2bm.results.runlog import parse_run_log
from gp2bm.spec.manifest import load_manifest
from gp2bm.spec.suite import load_suite

pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

KEYS = ["run_start", "run_stop", "eval_accuracy", "submission_benchmark", "seed",
        "global_batch_size", "cache_clear", "gp2bm_run_end", "init_start", "epoch_start"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10,
)
record = st.fixed_dictionaries(
    {},
    optional={
        "key": st.sampled_from(KEYS) | st.text(max_size=10) | json_values,
        "time_ms": st.integers(-(2**70), 2**70) | st.floats() | json_values,
        "value": json_values,
        "metadata": json_values
        | st.fixed_dictionaries({}, optional={"status": json_values, "epoch_num": json_values}),
        "event_type": json_values,
    },
)


def mllog_line(obj) -> bytes:
    return b":::MLLOG " + json.dumps(obj, allow_nan=True).encode()


lines = st.one_of(
    st.builds(mllog_line, record),
    st.binary(max_size=200),
    st.builds(lambda b: b":::MLLOG " + b, st.binary(max_size=200)),
    st.text(max_size=100).map(str.encode),
)


def check_parse(path, data: bytes):
    path.write_bytes(data)
    try:
        run = parse_run_log(path, target=0.75)
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    # whatever was read is self-consistent
    if run.minutes is not None:
        assert run.start_ms is not None and run.stop_ms is not None
    for a in run.anomalies:
        assert "\n" not in a.message


@pytest.mark.reliability("fuzz-log")
@FUZZ
@given(st.lists(lines, max_size=30), st.sampled_from([b"\n", b"\r\n", b"\0"]))
def test_parser_survives_anything(tmp_path, chunks, sep):
    check_parse(tmp_path / "result_0.txt", sep.join(chunks))


@pytest.mark.reliability("fuzz-log")
@FUZZ
@given(st.binary(max_size=4096))
def test_parser_survives_raw_bytes(tmp_path, data):
    check_parse(tmp_path / "result_0.txt", data)


def _load(loader, path, text):
    path.write_text(text)
    try:
        loader(path)
    except InputError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)


yaml_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(
    max_size=12)
yaml_docs = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=15,
)


def near_suite():
    bench = st.fixed_dictionaries(
        {}, optional={"runs": yaml_docs | st.integers(-2, 12), "target": yaml_docs,
                      "weight": yaml_docs, "manifest": yaml_docs, "surprise": yaml_docs})
    return st.fixed_dictionaries(
        {},
        optional={"name": yaml_docs | st.just("x"), "ruleset": yaml_docs | st.just("3.1.0"),
                  "nodes": yaml_docs | st.integers(-1, 4),
                  "benchmarks": st.dictionaries(st.sampled_from(["resnet", "bert", "Bad Name"]),
                                                bench, max_size=2) | yaml_docs,
                  "checks": yaml_docs},
    )


def near_manifest():
    return st.fixed_dictionaries(
        {},
        optional={"benchmark": yaml_docs | st.just("resnet"), "image": yaml_docs,
                  "command": yaml_docs | st.lists(st.text(max_size=5), max_size=3),
                  "mounts": yaml_docs, "ulimits": yaml_docs, "gpus": yaml_docs,
                  "seed": yaml_docs, "local": yaml_docs, "environment": yaml_docs},
    )


@pytest.mark.reliability("fuzz-yaml")
@FUZZ
@given(near_suite() | yaml_docs)
def test_suite_loader_structured(tmp_path, doc):
    _load(load_suite, tmp_path / "suite.yaml", yaml.safe_dump(doc))


@pytest.mark.reliability("fuzz-yaml")
@FUZZ
@given(near_manifest() | yaml_docs)
def test_manifest_loader_structured(tmp_path, doc):
    _load(load_manifest, tmp_path / "m.yaml", yaml.safe_dump(doc))


@pytest.mark.reliability("fuzz-yaml")
@FUZZ
@given(st.text(max_size=300))
def test_loaders_raw_text(tmp_path, text):
    _load(load_suite, tmp_path / "suite.yaml", text)
    _load(load_manifest, tmp_path / "m.yaml", text)


@pytest.mark.reliability("yaml-bomb")
def test_yaml_bomb_is_refused(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    path = tmp_path / "suite.yaml"
    path.write_text(bomb)
    try:
        load_suite(path)
    except InputError as exc:
        assert "aliases" in str(exc)
    else:
        raise AssertionError("a YAML bomb was accepted")


@pytest.mark.reliability("yaml-bomb")
def test_huge_manifest_is_refused(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("benchmark: resnet\n" + "# padding\n" * 200_000)
    try:
        load_manifest(path)
    except InputError as exc:
        assert "too large" in str(exc)
    else:
        raise AssertionError("a 2 MB manifest was accepted")

"""The parsers' line stripping in linear time gives what MLCommons' regex gives: on every
published log, on crafted lines, and through the parser itself."""

from __future__ import annotations

import importlib
import pkgutil
import random
import re

import pytest
from conftest import SHARED
from mlperf_logging.compliance_checker import mlp_parser

from gp2bm.results.mlcommons import install, linestrip

TOKENS = (":::MLLOG ", ":::MLL")
FIXTURES = SHARED / "fixtures"


def regex_strip(lines, token):
    """mlperf-logging's own ``strip_and_dedup``, written out."""
    return [re.sub(".*" + token, token, line) for line in lines if token in line]


@pytest.fixture(autouse=True, scope="module")
def speedups():
    """gp2bm's speed-ups installed into the library (for the pinned release only)."""
    assert install(), "the installed mlperf-logging is not the release gp2bm is pinned to"


def parser_modules():
    for info in pkgutil.iter_modules(mlp_parser.__path__):
        yield importlib.import_module(f"{mlp_parser.__name__}.{info.name}")


def test_every_parser_of_the_installed_library_is_replaced():
    modules = list(parser_modules())
    assert len(modules) >= 10  # one per ruleset, 0.6.0 to 6.1.0 in the pinned release
    for module in modules:
        name = module.strip_and_dedup.__qualname__
        assert name.startswith("linear_strip_and_dedup"), module.__name__


def test_the_known_code_is_recognised_and_other_code_is_not():
    namespace: dict = {}
    exec(compile(linestrip._KNOWN_SOURCE, "<x>", "exec"), namespace)  # noqa: S102
    assert linestrip._same_code(namespace["strip_and_dedup"])
    changed = linestrip._KNOWN_SOURCE.replace('".*"+TOKEN', '"^.*"+TOKEN')
    exec(compile(changed, "<y>", "exec"), namespace)  # noqa: S102
    assert not linestrip._same_code(namespace["strip_and_dedup"])


def test_a_parser_with_other_code_is_left_alone(monkeypatch):
    module = next(parser_modules())

    def other(gen):
        return list(gen)

    monkeypatch.setattr(module, "strip_and_dedup", other)
    assert module.__name__.rsplit(".", 1)[1] not in linestrip.install()
    assert module.strip_and_dedup is other


CRAFTED = [
    "",
    "\n",
    ":::MLLOG ",
    ":::MLLOG \n",
    'x :::MLLOG {"a": 1}\n',
    'x :::MLLOG y :::MLLOG {"a": 1}\n',
    ':::MLLOG :::MLLOG :::MLLOG {"key": "run_stop"}',
    'rank 3 \r:::MLLOG {"k": "\u00e9"}\n',
    "a :::MLLOG b\nc :::MLLOG d\nno token here\n:::MLLOG e",
    "::::MLLOG  x",
    ":::MLLOGx :::MLL y",
    "prefix" * 5000 + ':::MLLOG {"long": true}' + "z" * 5000 + "\n",
]


@pytest.mark.parametrize("token", TOKENS)
def test_crafted_lines(token):
    assert linestrip.linear_strip_and_dedup(token)(CRAFTED) == regex_strip(CRAFTED, token)


@pytest.mark.parametrize("token", TOKENS)
def test_random_lines(token):
    rng = random.Random(11)
    pieces = ["a", " ", ":", ":::MLLOG ", ":::MLL", "\n", "\r", "\u00e9", "{}", ".*", "MLLOG"]
    lines = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))) for _ in range(5000)]
    assert linestrip.linear_strip_and_dedup(token)(lines) == regex_strip(lines, token)


def published_logs():
    return sorted(FIXTURES.glob("mlperf/**/result_*.txt")) + sorted(
        FIXTURES.glob("nvidia-v4.0/*/results/result_*.txt")
    )


def test_every_published_log():
    logs = published_logs()
    if not logs:
        pytest.skip(f"published MLPerf logs not available under {FIXTURES}")
    for log in logs:
        with open(log, encoding="latin-1") as f:  # as mlperf-logging's parse_file reads it
            lines = list(f)
        for token in TOKENS:
            ours = linestrip.linear_strip_and_dedup(token)(lines)
            assert ours == regex_strip(lines, token), log


def test_the_parser_gives_the_same_lines(monkeypatch):
    logs = published_logs()
    if not logs:
        pytest.skip(f"published MLPerf logs not available under {FIXTURES}")
    module = importlib.import_module(f"{mlp_parser.__name__}.ruleset_400")
    log = str(logs[-1])
    fast = module.parse_file(log)
    monkeypatch.setattr(module, "strip_and_dedup", lambda gen: regex_strip(gen, module.TOKEN))
    assert module.parse_file(log) == fast
    assert len(fast[0]) > 100

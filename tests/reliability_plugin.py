"""Outcomes of the tests behind docs/RELIABILITY.md.

Tests marked ``@pytest.mark.reliability("row-id", ...)`` prove rows of the fault table.
With ``--reliability-report FILE`` the outcome of each such test is written as JSON
(``{row: {nodeid: outcome}}``), e.g. to fill the table's "observed" column after a run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

_outcomes: dict[str, dict[str, str]] = {}


def pytest_addoption(parser):
    parser.addoption(
        "--reliability-report",
        metavar="FILE",
        default=None,
        help="write the outcome of each test behind docs/RELIABILITY.md to FILE (JSON)",
    )


def _rows(item) -> list[str]:
    return [str(a) for m in item.iter_markers("reliability") for a in m.args]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    rows = _rows(item)
    if not rows:
        return
    if report.when == "call" or (report.when == "setup" and not report.passed):
        result = "skipped" if report.skipped else report.outcome
        for row in rows:
            _outcomes.setdefault(row, {})[item.nodeid] = result


def pytest_sessionfinish(session, exitstatus):
    path = session.config.getoption("--reliability-report")
    if path and _outcomes:
        Path(path).write_text(json.dumps(_outcomes, indent=2, sort_keys=True) + "\n")

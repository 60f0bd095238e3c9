"""docs/RELIABILITY.md and the tests marked @pytest.mark.reliability must agree.

A static scan (AST of tests/*.py), so it is quick and needs neither Docker nor root: every
row of the doc's tables has at least one marked test, every marker names a row, and every
test the doc names exists and carries that row's marker.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "RELIABILITY.md"
ROW = re.compile(r"^\|\s*`(?P<id>[a-z0-9-]+)`\s*\|(?P<rest>.*)\|\s*$")
NODE = re.compile(r"`(tests/[\w/]+\.py::\w+)`")


def doc_rows() -> dict[str, list[str]]:
    """Row id -> the test node ids of its last column."""
    rows = {}
    for line in DOC.read_text().splitlines():
        m = ROW.match(line)
        if m:
            assert m["id"] not in rows, f"row `{m['id']}` twice in {DOC.name}"
            last = m["rest"].split("|")[-1]
            rows[m["id"]] = NODE.findall(last)
    return rows


def _marker_rows(decorator: ast.expr) -> list[str] | None:
    """The row ids of a ``pytest.mark.reliability(...)`` decorator, else None."""
    if not isinstance(decorator, ast.Call):
        return None
    name = ast.unparse(decorator.func)
    if name not in ("pytest.mark.reliability", "mark.reliability"):
        return None
    return [a.value for a in decorator.args if isinstance(a, ast.Constant)]


def marked_tests() -> dict[str, list[str]]:
    """Node id (tests/file.py::function) -> the row ids its marker names."""
    found = {}
    for path in sorted((REPO / "tests").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                rows = [r for d in node.decorator_list for r in (_marker_rows(d) or [])]
                if rows:
                    found[f"tests/{path.name}::{node.name}"] = rows
    return found


def test_every_row_has_a_marked_test_and_every_marker_a_row():
    rows = doc_rows()
    marked = marked_tests()
    assert len(rows) >= 20, f"{DOC.name}: the tables were not parsed"
    by_row: dict[str, set[str]] = {}
    for node, ids in marked.items():
        for row in ids:
            by_row.setdefault(row, set()).add(node)
    unproved = sorted(set(rows) - set(by_row))
    assert unproved == [], f"rows of {DOC.name} without a @pytest.mark.reliability test"
    unknown = {node: ids for node, ids in marked.items() if set(ids) - set(rows)}
    assert unknown == {}, f"tests marked with rows that {DOC.name} does not have"


def test_the_tests_the_doc_names_exist_and_are_marked():
    marked = marked_tests()
    wrong = []
    for row, nodes in doc_rows().items():
        assert nodes, f"row `{row}` names no test"
        for node in nodes:
            if node not in marked:
                wrong.append(f"`{row}`: {node} does not exist or has no reliability marker")
            elif row not in marked[node]:
                wrong.append(f"`{row}`: {node} is marked {marked[node]}, not this row")
    assert wrong == []


def test_every_marked_test_is_named_in_its_row():
    rows = doc_rows()
    missing = [
        f"{node} (row `{row}`)"
        for node, ids in marked_tests().items()
        for row in ids
        if row in rows and node not in rows[row]
    ]
    assert missing == [], f"marked tests not listed in {DOC.name}'s last column"


def test_the_marker_is_registered():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    markers = config["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("reliability") for m in markers)

"""Verifying a hand-in bundle from its raw logs, trusting nothing it says about itself.

1. The archive is opened with safetar (unsafe members refused, naming them).
2. SHA256SUMS: every listed file has its digest, every file is listed, no link is there.
3. Every log is parsed again; each benchmark's result and the score are recomputed, with
   MLCommons' compliance, seed and RCP checks run again, from the bundled suite (or the
   evaluator's own ``--suite``).
4. The recomputation is compared with what the bundle claims: ``gp2bm-claims.json``, the
   CSV, the workbook's Summary and the claims embedded in the HTML report.
5. MLCommons' package checker runs again on (a copy of) the submission tree.

Everything that differs is listed, with the file it concerns. The bundle passes only when
nothing differs, the score is valid and the package checker passes.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.errors import Gp2bmError, InputError, InvalidError
from gp2bm.files import safetar
from gp2bm.files.checksums import sha256_file
from gp2bm.files.jsonfile import read_json
from gp2bm.handin.layout import BUNDLE_FILE, CLAIMS_FILE, SUMS_FILE
from gp2bm.handin.package_check import check_package
from gp2bm.reports.claims import claims
from gp2bm.reports.csv_report import read_csv
from gp2bm.reports.html_report import read_claims
from gp2bm.reports.view import CampaignView, load_campaign
from gp2bm.reports.writer import REPORT_NAMES
from gp2bm.reports.xlsx_report import read_claimed_score
from gp2bm.spec.suite import load_suite


@dataclass
class Verification:
    bundle: Path
    differences: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checked: dict = field(default_factory=dict)
    score: float | None = None

    @property
    def ok(self) -> bool:
        return not self.differences and not self.problems

    def as_dict(self) -> dict:
        return {
            "bundle": str(self.bundle),
            "ok": self.ok,
            "score": self.score,
            "differences": list(self.differences),
            "problems": list(self.problems),
            "checked": dict(self.checked),
        }

    def failure(self) -> InvalidError | None:
        """The error to exit with when anything differs or is wrong; the first finding."""
        if self.ok:
            return None
        first = (self.differences or self.problems)[0]
        count = len(self.differences) + len(self.problems)
        return InvalidError(f"{self.bundle}: {count} finding(s); first: {first}")


def _close(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
    return a == b


def compare(claimed, actual, path: str = "") -> list[str]:
    """Where two JSON values differ, as 'path: claimed X, recomputed Y' lines.

    Lists of runs are matched by their file name so that a line names the run.
    """
    here = path or "(top)"
    if isinstance(claimed, dict) and isinstance(actual, dict):
        out = []
        for key in list(claimed) + [k for k in actual if k not in claimed]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                out.append(f"{sub}: claimed but not recomputed")
            elif key not in claimed:
                out.append(f"{sub}: recomputed but not claimed")
            else:
                out += compare(claimed[key], actual[key], sub)
        return out
    if isinstance(claimed, list) and isinstance(actual, list):
        keyed = all(isinstance(x, dict) and "file" in x for x in claimed + actual)
        if keyed:
            a = {x["file"]: x for x in claimed}
            b = {x["file"]: x for x in actual}
            out = [f"{path}[{f}]: claimed run not in the logs" for f in a if f not in b]
            out += [f"{path}[{f}]: run in the logs but not claimed" for f in b if f not in a]
            for f in a:
                if f in b:
                    out += compare(a[f], b[f], f"{path}[{f}]")
            return out
        if len(claimed) != len(actual):
            return [f"{here}: claimed {claimed!r}, recomputed {actual!r}"]
        out = []
        for i, (x, y) in enumerate(zip(claimed, actual, strict=True)):
            out += compare(x, y, f"{path}[{i}]")
        return out
    if not _close(claimed, actual):
        return [f"{here}: claimed {claimed!r}, recomputed {actual!r}"]
    return []


def _top(root: Path) -> Path:
    if (root / SUMS_FILE).is_file():
        return root
    entries = list(root.iterdir())
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / SUMS_FILE).is_file():
        return entries[0]
    return root


def check_sums(top: Path, result: Verification) -> None:
    sums = top / SUMS_FILE
    if not sums.is_file():
        result.differences.append(f"{SUMS_FILE}: missing")
        return
    listed: dict[str, str] = {}
    for n, line in enumerate(sums.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            result.differences.append(f"{SUMS_FILE}: line {n} is not '<sha256>  <path>'")
            continue
        if name.startswith("/") or ".." in name.split("/"):
            result.differences.append(f"{SUMS_FILE}: line {n} names '{name}' outside the bundle")
            continue
        listed[name] = digest.lower()
    present = {}
    for path in sorted(top.rglob("*")):
        rel = path.relative_to(top).as_posix()
        if path.is_symlink():
            result.differences.append(f"{rel}: a link, which the bundle never holds")
        elif path.is_file() and rel != SUMS_FILE:
            present[rel] = path
    for name, digest in listed.items():
        if name not in present:
            result.differences.append(f"{name}: listed in {SUMS_FILE} but missing")
        elif sha256_file(present[name]) != digest:
            result.differences.append(f"{name}: SHA-256 differs from {SUMS_FILE}")
    for name in present:
        if name not in listed:
            result.differences.append(f"{name}: not listed in {SUMS_FILE}")
    result.checked["files"] = len(present)


def _load_json(top: Path, name: str, result: Verification) -> dict | None:
    path = top / name
    if not path.is_file():
        result.differences.append(f"{name}: missing")
        return None
    try:
        return read_json(path)
    except InputError as exc:
        result.differences.append(f"{name}: {str(exc).split(': ', 1)[-1]}")
        return None


def _bundled_suite(top: Path, meta: dict | None, result: Verification) -> Path | None:
    name = (meta or {}).get("suite_file")
    if not isinstance(name, str) or name.startswith("/") or ".." in Path(name).parts:
        result.differences.append(f"{BUNDLE_FILE}: no usable suite_file")
        return None
    path = top / name
    if not path.is_file():
        result.differences.append(f"{name}: the bundle's suite file is missing")
        return None
    return path


def _suite_differences(bundled: Path, given: Path) -> list[str]:
    a, b = load_suite(bundled), load_suite(given)
    out = []
    for attr in ("name", "ruleset", "nodes", "compliance", "rcp"):
        if getattr(a, attr) != getattr(b, attr):
            out.append(
                f"suite {attr}: the bundle's is {getattr(a, attr)!r}, yours {getattr(b, attr)!r}"
            )
    for name in sorted(set(a.benchmarks) | set(b.benchmarks)):
        x, y = a.benchmarks.get(name), b.benchmarks.get(name)
        if x is None or y is None:
            out.append(f"suite benchmark {name}: only in {'yours' if x is None else 'the bundle'}")
            continue
        for attr in ("runs", "target", "weight", "max_failed_runs"):
            if getattr(x, attr) != getattr(y, attr):
                out.append(
                    f"suite {name}.{attr}: the bundle's is {getattr(x, attr)!r}, "
                    f"yours {getattr(y, attr)!r}"
                )
    return out


def _check_csv_rows(name: str, rows: list[dict], recomputed: dict, result: Verification) -> None:
    """Every run row, result row and the score row against the recomputation; every run
    of the logs must have its row."""
    expected_runs = {
        (b, r["file"]): r for b, d in recomputed["benchmarks"].items() for r in d["runs"]
    }
    seen = set()
    for row in rows:
        kind, bench = row.get("kind"), row.get("benchmark")
        if kind == "run":
            key = (bench, row.get("file"))
            seen.add(key)
            run = expected_runs.get(key)
            if run is None:
                result.differences.append(f"{name}: run {bench}/{row.get('file')} not in logs")
                continue
            what = f"{bench}/{row['file']}"
            _csv_value(name, f"{what} minutes", row.get("minutes"), run["minutes"], result)
            if row.get("verdict") != run["role"]:
                result.differences.append(
                    f"{name}: {what} verdict: claimed {row.get('verdict')!r}"
                    f", recomputed {run['role']!r}"
                )
        elif kind == "result" and bench in recomputed["benchmarks"]:
            expected = recomputed["benchmarks"][bench]["minutes"]
            _csv_value(name, f"{bench} result minutes", row.get("minutes"), expected, result)
        elif kind == "score":
            _csv_value(name, "score", row.get("score"), recomputed["score"], result)
    for key in expected_runs:
        if key not in seen:
            result.differences.append(f"{name}: run {key[0]}/{key[1]} missing")


def _check_csv(reports: Path, recomputed: dict, result: Verification) -> None:
    name = f"reports/{REPORT_NAMES['csv']}"
    path = reports / REPORT_NAMES["csv"]
    if not path.is_file():
        result.differences.append(f"{name}: missing")
        return
    try:
        rows = read_csv(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        rows = []
        result.differences.append(f"{name}: unreadable ({exc})")
    _check_csv_rows(name, rows, recomputed, result)


def _check_xlsx(reports: Path, recomputed: dict, result: Verification) -> None:
    name = f"reports/{REPORT_NAMES['xlsx']}"
    path = reports / REPORT_NAMES["xlsx"]
    if not path.is_file():
        result.differences.append(f"{name}: missing")
        return
    try:
        found, value = read_claimed_score(path)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        result.differences.append(f"{name}: unreadable ({type(exc).__name__})")
        return
    if not found:
        result.differences.append(f"{name}: no score on the Summary sheet")
    elif not _close(value, recomputed["score"]):
        result.differences.append(
            f"{name}: score: claimed {value!r}, recomputed {recomputed['score']!r}"
        )


def _check_html(reports: Path, recomputed: dict, result: Verification) -> None:
    name = f"reports/{REPORT_NAMES['html']}"
    path = reports / REPORT_NAMES["html"]
    if not path.is_file():
        result.differences.append(f"{name}: missing")
        return
    embedded = read_claims(path)
    if embedded is None:
        result.differences.append(f"{name}: no embedded claims")
    else:
        result.differences += [f"{name}: {d}" for d in compare(embedded, recomputed)]


def _check_reports(top: Path, recomputed: dict, result: Verification) -> None:
    """The CSV, the workbook's Summary and the HTML's embedded claims against the logs."""
    reports = top / "reports"
    _check_csv(reports, recomputed, result)
    _check_xlsx(reports, recomputed, result)
    _check_html(reports, recomputed, result)


def _csv_value(name: str, what: str, text, expected, result: Verification) -> None:
    if text in (None, ""):
        value = None
    else:
        try:
            value = float(text)
        except ValueError:
            result.differences.append(f"{name}: {what}: '{text}' is not a number")
            return
    if (value is None) != (expected is None) or (value is not None and not _close(value, expected)):
        result.differences.append(f"{name}: {what}: claimed {value!r}, recomputed {expected!r}")


def _validity(view: CampaignView, result: Verification) -> None:
    if not view.score.valid:
        result.problems.append("the logs give no valid score")
        for name, b in view.score.benchmarks.items():
            result.problems += [f"{name}: {p}" for p in b.problems]
        result.problems += [f"{name}: no results" for name in view.score.missing]


def _package_check_again(
    top: Path, view: CampaignView, meta: dict | None, result: Verification
) -> None:
    """MLCommons' package checker on a copy of the bundled tree, and what the bundle said
    of it."""
    with tempfile.TemporaryDirectory(prefix="gp2bm-verify-check-") as tmp:
        check = check_package(top / view.org, view.score.ruleset, Path(tmp))
    result.checked["package_checker"] = "pass" if check.passed else "FAIL"
    if not check.passed:
        result.problems.append(
            "MLCommons' package checker fails: " + ("; ".join(check.errors[:5]) or "see its log")
        )
    claimed_check = ((meta or {}).get("package_checker") or {}).get("passed")
    if meta is not None and claimed_check is not None and claimed_check != check.passed:
        result.differences.append(
            f"{BUNDLE_FILE}: package_checker.passed: claimed {claimed_check!r}, "
            f"recomputed {check.passed!r}"
        )


def _suite_to_score(
    top: Path, meta: dict | None, suite_path: Path | None, result: Verification
) -> Path | None:
    """The evaluator's suite when given (compared with the bundled one), else the bundle's."""
    bundled_suite = _bundled_suite(top, meta, result)
    if suite_path is not None and bundled_suite is not None:
        try:
            result.differences += _suite_differences(bundled_suite, suite_path)
        except Gp2bmError as exc:
            result.differences.append(f"suite: {exc}")
    return suite_path or bundled_suite


def verify_tree(top: Path, bundle: Path, suite_path: Path | None = None) -> Verification:
    """Verify an extracted bundle folder: sums, claims and reports against the logs."""
    result = Verification(bundle=bundle)
    check_sums(top, result)
    meta = _load_json(top, BUNDLE_FILE, result)
    claimed = _load_json(top, CLAIMS_FILE, result)
    suite = _suite_to_score(top, meta, suite_path, result)
    if suite is None:
        return result
    try:
        view = load_campaign(top, suite)
    except Gp2bmError as exc:
        result.differences.append(f"cannot recompute from the logs: {exc}")
        return result
    recomputed = claims(view)
    result.score = recomputed["score"]
    result.checked["runs"] = sum(len(b.runs) for b in view.score.benchmarks.values())
    result.checked["benchmarks"] = list(view.score.benchmarks)
    if claimed is not None:
        result.differences += [f"{CLAIMS_FILE}: {d}" for d in compare(claimed, recomputed)]
    _check_reports(top, recomputed, result)
    _validity(view, result)
    _package_check_again(top, view, meta, result)
    for item in (meta or {}).get("incomplete") or []:
        result.problems.append(f"incomplete: {item}")
    return result


def verify_bundle(bundle: Path, suite_path: Path | None = None) -> Verification:
    """Verify a .tar.gz bundle (extracted safely into a temporary folder) or a folder."""
    bundle = Path(bundle)
    if bundle.is_dir():
        return verify_tree(_top(bundle), bundle, suite_path)
    with tempfile.TemporaryDirectory(prefix="gp2bm-verify-") as tmp:
        safetar.extract(bundle, Path(tmp) / "bundle")
        root = Path(tmp) / "bundle"
        result = verify_tree(_top(root), bundle, suite_path)
    return result

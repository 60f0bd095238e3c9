"""Filling the "MLPerf" tab of the RFP's own results workbook (Benchmark_Results.xlsx).

The tab is a form: labels in one column ("Number of nodes", "BERT Benchmark (seconds)",
"ResNet Benchmark (seconds)", "Compiler name and version", ...) and a "Test" and a
"Proposed" column under a header row. Cells are found by their labels, not by fixed
coordinates, so a re-laid-out form still fills (or fails naming what it did not find).
Only the answer cells are written; every other cell, tab and format of the template is
left as it is (the description-of-changes cell also gets wrapped text, or it would show one
long line). The template file itself is never written.

Test column: the number of nodes (the system description's, else the suite's), each
benchmark's result in the unit its label asks for (seconds = 60 x minutes), the software
stack (from the system description, the inventory, the images that ran) and, from
``--changes``, the description of changes. The Proposed column takes what the vendor passes
with ``--proposed KEY=VALUE``; ``--test KEY=VALUE`` fills what a campaign cannot know (MPI
tasks, flags) or overrides the detected software lines. ``--proposed bert=expect`` (or
``resnet=expect``) takes the result from the published results instead (``atlas.expect``
for the campaign node's accelerator and count, on the proposed nodes, else the suite's),
its cell commented as projected from published results, not measured.

A benchmark's result is the official number (the olympic mean times the scaling factor, the
RCP normalisation for a suite with RCP checks); its cell carries a comment with the unscaled
mean, the factor and why. Counts (nodes, MPI tasks, OpenMP threads) must be whole numbers of
at least 1 and proposed results numbers above 0, refused on the command line otherwise;
text is written as text, never as a formula (``celltext``).
"""

from __future__ import annotations

import math
import re
from copy import copy
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.atlas import load_atlas, normalise_accelerator
from gp2bm.atlas.expectation import expect_benchmark
from gp2bm.errors import InputError, InvalidError
from gp2bm.files.atomic import write_bytes_atomic
from gp2bm.files.redact import credential_in_text
from gp2bm.node.systemdesc import is_placeholder
from gp2bm.reports.celltext import put_value
from gp2bm.reports.completeness import banner_text, incomplete, placeholder_answers
from gp2bm.reports.official import energy_text, factor_text, typed_minutes, typed_seconds
from gp2bm.reports.software import software
from gp2bm.reports.view import CampaignView, images_used
from gp2bm.reports.xlsx_report import workbook_bytes
from gp2bm.results.scoring import BenchmarkScore

SHEET = "MLPerf"
# Where the banner goes when the form leaves no room above itself.
BANNER_SHEET = "gp2bm: incomplete"
MAX_CELL_CHARS = 32767

# label (lower case, start of the text) -> key
LABELS = {
    "number of nodes": "nodes",
    "number of mpi tasks": "mpi_tasks",
    "number of omp threads": "omp_threads",
    "compiler name and version": "compiler",
    "mpi and version": "mpi",
    "performance libraries and versions": "libraries",
    "compiler flags": "compiler_flags",
    "library flags": "library_flags",
    "include detailed description": "changes",
}
BENCH_LABEL_RE = re.compile(r"^\s*(\S+)\s+benchmark\s*\((seconds|minutes)\)", re.IGNORECASE)
# Lines of whole numbers of at least 1, and lines of text; any other line (a benchmark's
# result) is a number above 0.
COUNT_KEYS = {"nodes", "mpi_tasks", "omp_threads"}
# ``--proposed bert=expect``: the result projected from the published results
PROJECTED = "expect"
PROJECTED_NOTE = "Projected from published MLPerf results"  # its cell's comment
RESULT_KEYS = {"bert", "resnet"}
TEXT_KEYS = {"compiler", "mpi", "libraries", "compiler_flags", "library_flags", "changes"}

# The software lines gp2bm fills from what it knows of the node (the system description, the
# inventory, the manifests): one left blank is a gap the banner names. The flags' lines are
# the vendor's alone (--test), and may rightly stay empty.
DETECTED_LINES = ("compiler", "mpi", "libraries")
# The counts gp2bm reads from the runs' launch (``launch_values``), and why one is blank.
LAUNCH_LINES = {
    "mpi_tasks": "the run records do not say (or do not agree on) the processes of a run",
    "omp_threads": "the runs' environment sets no OMP_NUM_THREADS (or not one value)",
}

# Words naming a container engine in a declared software stack, and the runtime each is.
ENGINE_WORDS = {
    "docker": "docker",
    "podman": "podman",
    "apptainer": "apptainer",
    "singularity": "apptainer",
    "enroot": "enroot",
    "pyxis": "enroot",
}
# How detected software is sorted into the form's three lines.
COMPILER_RE = re.compile(r"gcc|g\+\+|clang|llvm|\bicc|icx|icpx|nvcc|nvhpc|compiler|python", re.I)
MPI_RE = re.compile(r"mpi|ucx|hpc-?x|mvapich|hcoll", re.I)
LIBRARY_RE = re.compile(
    r"cuda|cudnn|cublas|nccl|dali|mkl|blas|numpy|tensorrt|apex|transformer|torch|mxnet|"
    r"tensorflow|jax|framework|driver|rocm|rccl|oneapi|other_software_stack|image|"
    r"implementation",
    re.I,
)


@dataclass
class FormLayout:
    """Where the answers go: key -> cell coordinate, per column."""

    test: dict[str, str] = field(default_factory=dict)
    proposed: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)  # benchmark -> seconds | minutes


@dataclass
class FilledCell:
    coordinate: str
    column: str  # Test | Proposed | Banner (the "incomplete" banner)
    key: str
    value: object
    gaps: list[str] = field(default_factory=list)  # a banner's items


def _text(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _anchor(ws, coordinate: str) -> str:
    """The top-left cell of the merged range holding ``coordinate`` (or itself)."""
    for rng in ws.merged_cells.ranges:
        if coordinate in rng:
            return rng.start_cell.coordinate
    return coordinate


def find_layout(ws, where: str) -> FormLayout:
    from openpyxl.utils import get_column_letter  # heavy: openpyxl

    header = None
    for row in ws.iter_rows():
        texts = {_text(c.value).lower(): c for c in row if c.value is not None}
        if "test" in texts and "proposed" in texts:
            header = (texts["test"], texts["proposed"])
            break
    if header is None:
        raise InputError(f"{where}: tab '{SHEET}' has no header row with 'Test' and 'Proposed'")
    test_cell, proposed_cell = header
    layout = FormLayout()
    first_row = test_cell.row + 1
    test_col, prop_col = test_cell.column, proposed_cell.column
    for row in ws.iter_rows(min_row=first_row, max_col=test_col - 1):
        for cell in row:
            label = _text(cell.value)
            if not label:
                continue
            low = label.lower()
            key = next((k for prefix, k in LABELS.items() if low.startswith(prefix)), None)
            m = BENCH_LABEL_RE.match(label)
            if m:
                key = m.group(1).lower()
                layout.units[key] = m.group(2).lower()
            if key is None or key in layout.test:
                continue
            if key == "changes":
                # the answer is the (merged) block right under the label
                below = f"{get_column_letter(cell.column)}{_row_after(ws, cell)}"
                layout.test[key] = _anchor(ws, below)
                continue
            test = _anchor(ws, f"{get_column_letter(test_col)}{cell.row}")
            if ws[test].column != test_col:
                continue
            layout.test[key] = test
            prop = f"{get_column_letter(prop_col)}{cell.row}"
            if _anchor(ws, prop) == prop:  # a merged Test..G line has one value for both
                layout.proposed[key] = prop
    return layout


def _row_after(ws, cell) -> int:
    """The first row below the (possibly merged) label cell."""
    for rng in ws.merged_cells.ranges:
        if cell.coordinate in rng:
            return rng.max_row + 1
    return cell.row + 1


def parse_assignments(items: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not sep or not key:
            raise InputError(f"{option} '{item}': expected KEY=VALUE")
        out[key] = value.strip()
    return out


def answer_value(key: str, value: str, option: str):
    """A line's answer as the form wants it: text for text lines; for the others a number
    (the form computes with them), a count a whole number of at least 1, a result above 0.
    Anything else is refused, naming the option."""
    if key in TEXT_KEYS:
        return value
    if key in RESULT_KEYS and value.strip().lower() == PROJECTED:
        return PROJECTED
    what = "a whole number, at least 1" if key in COUNT_KEYS else "a number above 0"
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"{option} {key}={value}: expected a number ({what})") from None
    whole = re.fullmatch(r"\+?\d+", value.strip()) is not None
    if not math.isfinite(number) or number <= 0 or (key in COUNT_KEYS and not whole):
        raise InputError(f"{option} {key}={value}: expected {what}")
    return int(number) if whole else number


def _engines_unused(text: str, used: set[str]) -> str:
    """A declared software stack without the container engines no run used (a node may have
    Podman installed while every run was Docker's, or a plain process)."""
    kept = []
    for part in text.split(","):
        named = {engine for word, engine in ENGINE_WORDS.items() if word in part.lower()}
        if not named or named & used:
            kept.append(part.strip())
    return ", ".join(p for p in kept if p)


def _stack(view: CampaignView) -> list[tuple[str, str]]:
    """The detected software stack, without placeholders (the banner names those) and
    without engines no run used."""
    used = {img.runtime for imgs in images_used(view).values() for img in imgs if img.runtime}
    out = []
    for name, ver in software(view):
        if is_placeholder(ver):
            continue
        if name == "other_software_stack":
            ver = _engines_unused(ver, used)
        if ver:
            out.append((name, ver))
    return out


def software_lines(view: CampaignView) -> dict[str, str]:
    """The compiler, MPI and performance-library lines from the detected software stack."""
    lines: dict[str, list[str]] = {"compiler": [], "mpi": [], "libraries": []}
    for name, ver in _stack(view):
        if name in ("gp2bm", "mlperf-logging", "operating_system") or ".os." in f".{name}.":
            continue
        if name.endswith(" implementation"):  # a local process: no image to name
            continue
        short = name.rsplit(".", 1)[-1].removesuffix("_version").replace("_", " ")
        text = f"{short} {ver}"
        if COMPILER_RE.search(name):
            lines["compiler"].append(text)
        elif MPI_RE.search(name):
            lines["mpi"].append(text)
        elif LIBRARY_RE.search(name):
            lines["libraries"].append(text)
    frameworks: dict[str, list[str]] = {}
    for bench, manifest in view.manifests.items():
        if manifest.framework:
            frameworks.setdefault(manifest.framework, []).append(bench)
    lines["libraries"][:0] = [f"{fw} ({', '.join(b)})" for fw, b in frameworks.items()]
    return {k: "; ".join(dict.fromkeys(v)) for k, v in lines.items() if v}


def _nodes(view: CampaignView):
    declared = (view.system_desc or {}).get("number_of_nodes")
    try:
        return int(str(declared).strip()) if declared is not None else view.suite.nodes
    except ValueError:
        return view.suite.nodes


def _whole_number(value: object) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() and int(text) > 0 else None


def launch_values(view: CampaignView) -> dict[str, int]:
    """The MPI tasks (the processes a run's launch started: per node times nodes) and the
    OpenMP threads (``OMP_NUM_THREADS`` of the runs' environment) from the run records,
    where every run that says agrees; a line the runs disagree on, or do not say, stays
    for the vendor to give (``--test``), flagged as a gap."""
    tasks: set[int] = set()
    threads: set[int] = set()
    for runs in view.runs.values():
        for run in runs:
            launch = run.record.launch if run.record is not None else None
            if not isinstance(launch, dict):
                continue
            per_node, nodes = _whole_number(launch.get("processes_per_node")), _whole_number(
                launch.get("nodes"))  # fmt: skip
            if per_node is not None and nodes is not None:
                tasks.add(per_node * nodes)
            omp = _whole_number((launch.get("environment") or {}).get("OMP_NUM_THREADS"))
            if omp is not None:
                threads.add(omp)
    found = {"mpi_tasks": tasks, "omp_threads": threads}
    return {key: next(iter(seen)) for key, seen in found.items() if len(seen) == 1}


def test_values(view: CampaignView, units: dict[str, str]) -> dict[str, object]:
    """The Test column as measured: nodes, each benchmark's result, the MPI tasks and
    OpenMP threads the runs' launch used, the software lines."""
    values: dict[str, object] = {"nodes": _nodes(view), **launch_values(view)}
    for name in view.suite.benchmarks:
        bench = view.score.benchmarks.get(name)
        if bench is None or not bench.valid:
            why = "no results" if bench is None else "; ".join(bench.problems) or "invalid"
            raise InvalidError(f"cannot fill the RFP workbook: {name} has no valid result ({why})")
        unit = units.get(name, "seconds")
        values[name] = (
            typed_seconds(bench.minutes) if unit == "seconds" else typed_minutes(bench.minutes)
        )
    values.update(software_lines(view))
    return values


def refuse_credentials(text: str, where: object) -> None:
    """InputError when the description of changes holds a credential (named by its kind
    and line, never quoted): it goes into the bundle and the RFP workbook."""
    secret = credential_in_text(text)
    if secret is not None:
        raise InputError(
            f"{where}: holds {secret} (the description of changes goes into the bundle and "
            "the RFP workbook: remove the secret)"
        )


def read_changes(path: Path | None) -> str | None:
    if path is None:
        return None
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise InputError(
            f"{path}: not UTF-8 text (give the description of changes as text)"
        ) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    text = text.strip()
    refuse_credentials(text, path)
    if not text:
        raise InputError(
            f"{path}: empty (the description of changes says what was changed; write "
            "'No changes.' when nothing was)"
        )
    if len(text) > MAX_CELL_CHARS:
        raise InputError(
            f"{path}: {len(text)} characters, more than one spreadsheet cell holds "
            f"({MAX_CELL_CHARS}); refer to a file of the bundle instead"
        )
    return text


@dataclass
class RfpAnswers:
    """What the vendor gives for the RFP workbook beyond what a campaign measures: the
    template to fill (a copy of it), the description of changes, the Proposed column and
    the Test lines a campaign cannot know."""

    template: Path | None = None
    changes: str | None = None
    proposed: dict[str, str] = field(default_factory=dict)
    test: dict[str, str] = field(default_factory=dict)


def read_answers(
    template: Path | None,
    changes: Path | None,
    proposed: list[str] | None,
    test: list[str] | None,
) -> RfpAnswers:
    """The answers as given on a command line (KEY=VALUE items, a text file of changes),
    each checked: bad input fails here, before any campaign is read."""
    proposed_values = parse_assignments(proposed, "--proposed")
    test_values_given = parse_assignments(test, "--test")
    for option, given in (("--proposed", proposed_values), ("--test", test_values_given)):
        for key, value in given.items():
            answer_value(key, value, option)  # refused here, before anything is read or written
    changes_text = read_changes(changes)
    if template is not None and not Path(template).is_file():
        raise InputError(f"{template}: file not found")
    return RfpAnswers(template, changes_text, proposed_values, test_values_given)


def _open_form(template: Path, out: Path):
    """The template workbook and its MLPerf tab; the template itself is never the output."""
    from openpyxl import load_workbook  # heavy: openpyxl

    if not template.is_file():
        raise InputError(f"{template}: file not found")
    if out.exists() and out.resolve() == template.resolve():
        raise InputError(f"{out}: is the template itself; give another --xlsx output path")
    try:
        wb = load_workbook(template)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise InputError(f"{template}: not a readable .xlsx workbook ({exc})") from None
    if SHEET not in wb.sheetnames:
        raise InputError(f"{template}: no '{SHEET}' tab (tabs: {', '.join(wb.sheetnames)})")
    return wb, wb[SHEET]


def _test_answers(
    view: CampaignView,
    layout: FormLayout,
    template: Path,
    changes: str | None,
    test: dict[str, str] | None,
) -> dict[str, object]:
    """The Test column: what the campaign measured, ``--test`` lines, the changes."""
    for key in ("nodes", *view.suite.benchmarks):
        if key not in layout.test:
            what = "'Number of nodes'" if key == "nodes" else f"'{key} Benchmark (seconds)'"
            raise InputError(f"{template}: tab '{SHEET}' has no {what} row")
    values = test_values(view, layout.units)
    for key, value in (test or {}).items():
        if key in view.suite.benchmarks:
            raise InputError(
                f"--test {key}: the {key} result is measured from the campaign, not given"
            )
        if key not in layout.test or key == "changes":
            known = sorted(k for k in layout.test if k not in view.suite.benchmarks)
            raise InputError(f"--test {key}: no such line in the form (known: {', '.join(known)})")
        values[key] = answer_value(key, value, "--test")
    if changes is not None:
        if "changes" not in layout.test:
            raise InputError(f"{template}: tab '{SHEET}' has no description-of-changes block")
        values["changes"] = changes
    return values


def _node_accelerator(view: CampaignView, option: str) -> tuple[str, int]:
    """The campaign node's one kind of accelerator, as the atlas names it, and its count."""
    gpus = (view.inventory or {}).get("gpus") or {}
    devices = [d for d in (gpus.get("gpus") or []) if isinstance(d, dict)]
    names = {str(d.get("name")) for d in devices if d.get("name")}
    known = normalise_accelerator(names.pop()) if len(names) == 1 else None
    if known is None:
        raise InputError(
            f"{option}: the campaign's node has no one accelerator the published results know "
            f"({', '.join(sorted(names)) or 'none'}); give the result in the form's unit"
        )
    return known, len(devices)


def projected_answers(
    view: CampaignView, layout: FormLayout, proposed: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """``proposed`` with each ``KEY=expect`` replaced by the published results' projection
    (in the form's unit), and the comment of each such cell."""
    out, notes = dict(proposed), {}
    for key in [k for k, v in proposed.items() if str(v).strip().lower() == PROJECTED]:
        option = f"--proposed {key}={PROJECTED}"
        name, per_node = _node_accelerator(view, option)
        nodes = int(proposed.get("nodes") or view.suite.nodes)
        count = per_node * nodes  # the proposed nodes, each the campaign's node
        found = expect_benchmark(load_atlas(), key, name, count, nodes)
        if found.minutes is None:
            raise InputError(f"{option}: {found.explanation}")
        per = 60 if layout.units.get(key, "seconds") == "seconds" else 1
        out[key] = f"{found.minutes * per:.3f}"
        span = (
            f"; range {found.low:.2f} to {found.high:.2f} min"
            if found.low is not None and found.high is not None
            else ""
        )
        notes[key] = (
            f"{PROJECTED_NOTE}, not measured (gp2bm expect "
            f"--accelerator {name} --count {count} --nodes {nodes}): {found.minutes:.2f} min"
            f"{span}. {found.explanation}"
        )
    return out, notes


def _write_answers(
    ws, layout: FormLayout, values: dict[str, object], proposed: dict[str, str] | None
) -> list[FilledCell]:
    filled = []
    for key, value in values.items():
        coord = layout.test.get(key)
        if coord is None:
            continue
        put_value(ws[coord], value)
        filled.append(FilledCell(coord, "Test", key, value))
        if key == "changes":
            align = copy(ws[coord].alignment)
            align.wrap_text = True
            ws[coord].alignment = align
    for key, value in (proposed or {}).items():
        if key not in layout.proposed:
            known = ", ".join(sorted(layout.proposed))
            raise InputError(f"--proposed {key}: no such line in the form (known: {known})")
        typed = answer_value(key, value, "--proposed")
        put_value(ws[layout.proposed[key]], typed)
        filled.append(FilledCell(layout.proposed[key], "Proposed", key, typed))
    return filled


def result_note(b: BenchmarkScore, unit: str) -> str:
    """The comment on a benchmark's result cell: the unscaled mean, the factor and why."""
    per = 60 if unit == "seconds" else 1
    mean = "none" if b.mean is None else f"{b.mean * per:.3f} {unit}"
    official = "none" if b.minutes is None else f"{b.minutes * per:.3f} {unit}"
    return (
        f"Official result {official} = olympic mean {mean} (unscaled) x scaling "
        f"{factor_text(b)}. {b.scaling_reason}"
    )


def _explain_projected(ws, layout: FormLayout, projected: dict[str, str]) -> None:
    from openpyxl.comments import Comment  # heavy: openpyxl

    for key, note in projected.items():
        ws[layout.proposed[key]].comment = Comment(note, "gp2bm")


def _explain_results(ws, layout: FormLayout, view: CampaignView) -> None:
    from openpyxl.comments import Comment  # heavy: openpyxl

    reserved = [f"{r.name}: {r.text}" for r in view.ledger.reservations]
    ledger = " Trust ledger: " + ("; ".join(reserved) if reserved else "no reservation") + "."
    for name, b in view.score.benchmarks.items():
        coord = layout.test.get(name)
        if coord is not None:
            note = result_note(b, layout.units.get(name, "seconds")) + ledger
            if b.energy is not None:
                note += f" Energy to train: {energy_text(b.energy)}."
            ws[coord].comment = Comment(note, "gp2bm")


def workbook_gaps(
    view: CampaignView, layout: FormLayout, values: dict[str, object], changes: str | None
) -> list[str]:
    """What the filled form lacks: the campaign's gaps, a blank description of changes, an
    answer that is still a placeholder."""
    gaps = incomplete(view)
    if "changes" in layout.test and not (changes or "").strip():
        gaps.append(
            f"the description of changes ({layout.test['changes']}) is blank: give --changes FILE"
        )
    for key in placeholder_answers(values):
        gaps.append(f"the {key} line ({layout.test.get(key)}) is still a placeholder")
    for key, why in LAUNCH_LINES.items():
        if key in layout.test and values.get(key) is None:
            gaps.append(f"the {key} line ({layout.test[key]}) is blank: {why}; give --test {key}=N")
    for key in DETECTED_LINES:
        if key in layout.test and not str(values.get(key) or "").strip():
            gaps.append(
                f"the {key} line ({layout.test[key]}) is blank: describe the software in "
                f"system.yaml (framework, other_software_stack), or give --test {key}=TEXT "
                "(N/A when there is none)"
            )
    return gaps


def _banner_cell(ws) -> str | None:
    """An empty cell between the form's title and its header row, in the title's column."""
    from openpyxl.utils import get_column_letter  # heavy: openpyxl

    title = next((c for row in ws.iter_rows() for c in row if c.value is not None), None)
    header_row = next(
        (c.row for row in ws.iter_rows() for c in row if _text(c.value).lower() == "test"), None
    )
    if title is None or header_row is None:
        return None
    for row in range(title.row + 1, header_row):
        coord = f"{get_column_letter(title.column)}{row}"
        if ws[coord].value is None and _anchor(ws, coord) == coord:
            return coord
    return None


def _put_banner(ws, gaps: list[str]) -> FilledCell | None:
    """The "incomplete" banner, in red, above the form (or, with no room there, on a sheet
    of its own); None when nothing is missing."""
    from openpyxl.styles import Font  # heavy: openpyxl

    if not gaps:
        return None
    coord = _banner_cell(ws)
    if coord is None:
        ws = ws.parent.create_sheet(BANNER_SHEET, 0)
        coord = "A1"
    put_value(ws[coord], banner_text(gaps))
    ws[coord].font = Font(bold=True, color="C62828", size=12)
    return FilledCell(coord, "Banner", "incomplete", banner_text(gaps), gaps)


def fill_form(
    view: CampaignView,
    wb,
    where: Path,
    changes: str | None = None,
    proposed: dict[str, str] | None = None,
    test: dict[str, str] | None = None,
) -> list[FilledCell]:
    """Fill the MLPerf tab of ``wb`` (a template read from ``where``) in memory: plain
    values only, each answer cell keeping the template's number format; return what went
    where. ``gp2bm verify`` fills the bundled template again with this."""
    ws = wb[SHEET]
    layout = find_layout(ws, str(where))
    values = _test_answers(view, layout, where, changes, test)
    proposed, projected = projected_answers(view, layout, proposed or {})
    filled = _write_answers(ws, layout, values, proposed)
    _explain_results(ws, layout, view)
    _explain_projected(ws, layout, projected)
    banner = _put_banner(ws, workbook_gaps(view, layout, values, changes))
    if banner is not None:
        filled.append(banner)
    return filled


def fill_rfp_workbook(
    view: CampaignView,
    template: Path,
    out: Path,
    changes: str | None = None,
    proposed: dict[str, str] | None = None,
    test: dict[str, str] | None = None,
) -> list[FilledCell]:
    """Write a copy of ``template`` to ``out`` with its MLPerf tab filled; return what went
    where."""
    template, out = Path(template), Path(out)
    wb, _ = _open_form(template, out)
    filled = fill_form(view, wb, template, changes, proposed, test)
    write_bytes_atomic(out, workbook_bytes(wb))  # a device (/dev/stdout): written in place
    return filled


def _given(value) -> str:
    """An answer read back from a filled cell, as it would have been given (KEY=VALUE)."""
    return value if isinstance(value, str) else str(value)


def answers_of(view: CampaignView, filled, template, where: str) -> RfpAnswers:
    """The vendor's answers as a filled MLPerf tab holds them (``filled``; ``template``: the
    tab it was filled from): each Proposed line and each Test line that differs from the
    template's (a line the campaign measures only where it differs from the measurement),
    the description of changes. ``gp2bm verify`` fills the template again with them."""
    layout = find_layout(template, where)
    answers = RfpAnswers()
    for key, coord in layout.proposed.items():
        cell = filled[coord]
        note = cell.comment.text if cell.comment is not None else ""
        if key in RESULT_KEYS and note.startswith(PROJECTED_NOTE):
            answers.proposed[key] = PROJECTED
        elif cell.value is not None and cell.value != template[coord].value:
            answers.proposed[key] = _given(cell.value)
    measured = test_values(view, layout.units)
    for key, coord in layout.test.items():
        value = filled[coord].value
        if key == "changes":
            answers.changes = None if value is None else _given(value)
        elif key not in view.suite.benchmarks and value is not None:
            if value != measured.get(key, template[coord].value):
                answers.test[key] = _given(value)
    return answers


def fill_answers(view: CampaignView, answers: RfpAnswers, out: Path) -> list[FilledCell]:
    """The template of ``answers`` filled from the campaign and the answers, written to out."""
    template = answers.template
    assert template is not None  # report_targets gives answers to fill only with a template
    return fill_rfp_workbook(view, template, out, answers.changes, answers.proposed, answers.test)

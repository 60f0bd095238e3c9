"""What a workbook shows, cell by cell and part by part, for ``gp2bm verify`` to compare a
workbook of a bundle with the one its logs give.

A workbook is read with openpyxl as it is stored (formulas as formulas, never the cached
values a program could show instead of recalculating), and the zip's list of parts. Of each
cell: its type, its value or formula text, its number format (a literal-text format such as
``"12.5"`` shows another number than the cell holds), its comment and its hyperlink. Of the
workbook: the sheets (order and hidden or very hidden state), hidden rows and columns,
data validations, conditional formats, defined names, external links (``xl/externalLinks``
parts) and every other part of the zip (macros, data connections...). Any difference is
one finding naming the sheet and cell (``differences``), its values escaped and cut short.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from typing import IO

from gp2bm.evaluation.verification import close
from gp2bm.files.plaintext import printable

SHORT = 40  # characters of a value a finding quotes
EXTERNAL_PARTS = "xl/externalLinks/"


@dataclass
class Shape:
    """A workbook as compared: cells (``sheet!A1`` -> type, value, number format) and every
    other thing it shows or does (a name -> its text)."""

    cells: dict[str, tuple[str, object, str]] = field(default_factory=dict)
    parts: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # sheet!A1 -> its row's first text


def _empty(value) -> bool:
    return value is None or value == ""  # a saved empty text is no cell


def _cells(ws, shape: Shape) -> None:
    first: dict[int, str] = {}
    for (row, _), cell in sorted(ws._cells.items()):
        where = f"{ws.title}!{cell.coordinate}"
        if row in first:
            shape.labels[where] = first[row]
        elif cell.data_type == "s" and cell.value:
            first[row] = cell.value
        if not _empty(cell.value) or cell.number_format != "General":
            kind = "empty" if _empty(cell.value) else cell.data_type
            shape.cells[where] = (kind, cell.value, cell.number_format)
        look = _look(cell)
        if look:
            shape.parts[f"{where} look"] = look
        if cell.comment is not None:
            shape.parts[f"{where} comment"] = f"{cell.comment.author}: {cell.comment.text}"
        if cell.hyperlink is not None:
            link = cell.hyperlink
            shape.parts[f"{where} hyperlink"] = f"{link.target or ''}#{link.location or ''}"


def _colour(colour) -> str:
    if colour is None:
        return ""
    return str(colour.rgb if colour.type == "rgb" else f"{colour.type}:{colour.value}")


def _look(cell) -> str:
    """How a cell shows beyond its value and number format, where that is not the plain
    default: its font (colour, size, weight, style), fill, alignment, quote prefix and
    protection (a white font or a hidden formula shows a reader something else)."""
    if not cell.has_style:
        return ""
    f, fill, a, p = cell.font, cell.fill, cell.alignment, cell.protection
    parts = [
        f"font {f.name} {f.sz} {'b' if f.b else ''}{'i' if f.i else ''}{'s' if f.strike else ''}"
        f"{f.u or ''} {_colour(f.color)} {f.vertAlign or ''}",
        f"fill {fill.fill_type or ''} {_colour(getattr(fill, 'fgColor', None))}",
        f"align {a.horizontal or ''} {a.vertical or ''} {a.wrap_text or ''} {a.indent or ''} "
        f"{a.text_rotation or ''} {a.shrink_to_fit or ''}",
        f"quote {cell.quotePrefix or ''}",
        f"protection {p.locked} {p.hidden}",
    ]
    return "; ".join(" ".join(x.split()) for x in parts)


def _sheet_parts(ws, shape: Shape) -> None:
    name = ws.title
    shape.parts[f"sheet {name}"] = ws.sheet_state
    if ws.print_area:
        shape.parts[f"{name} print area"] = str(ws.print_area)
    for key, dim in ws.column_dimensions.items():
        if dim.customWidth and dim.width is not None:
            shape.parts[f"{name}!column {key} width"] = f"{dim.width:g}"
        if dim.hidden:
            shape.parts[f"{name}!column {key}"] = "hidden"
    for key, dim in ws.row_dimensions.items():
        if dim.customHeight and dim.ht is not None:
            shape.parts[f"{name}!row {key} height"] = f"{dim.ht:g}"
        if dim.hidden:
            shape.parts[f"{name}!row {key}"] = "hidden"
    for i, dv in enumerate(ws.data_validations.dataValidation, 1):
        shape.parts[f"{name} data validation {i}"] = (
            f"{dv.sqref}: {dv.type} {dv.operator} {dv.formula1} {dv.formula2}"
        )
    for i, cf in enumerate(ws.conditional_formatting, 1):
        rules = "; ".join(f"{r.type} {r.formula} {r.dxfId}" for r in cf.rules)
        shape.parts[f"{name} conditional format {i}"] = f"{cf.sqref}: {rules}"
    for key, dn in ws.defined_names.items():
        shape.parts[f"{name} defined name {key}"] = str(dn.attr_text)


# Zip parts that only store what the cells and parts compared already show (strings shared
# between cells, the calculation order, document properties, the theme, printer settings):
# a spreadsheet program writes them or not as it saves. Two copies of one workbook, one
# saved again, differ in them alone.
STORAGE_PARTS = re.compile(
    r"part (xl/sharedStrings\.xml|xl/calcChain\.xml|docProps/[^/]+|xl/theme/[^/]+"
    r"|xl/printerSettings/[^/]+|xl/worksheets/_rels/[^/]+)"
)


def content_of(shape: Shape) -> Shape:
    """``shape`` without its storage parts (``STORAGE_PARTS``): what two copies of one
    workbook saved by different programs have alike."""
    parts = {k: v for k, v in shape.parts.items() if not STORAGE_PARTS.fullmatch(k)}
    return Shape(dict(shape.cells), parts, dict(shape.labels))


def shape_of(source: str | IO[bytes], wb=None) -> Shape:
    """The shape of the workbook at ``source`` (a path or a binary file), as stored (``wb``:
    the workbook openpyxl read from it already, else it is read here)."""
    from openpyxl import load_workbook  # heavy: openpyxl

    shape = Shape()
    with zipfile.ZipFile(source) as zf:
        for part in zf.namelist():  # macros, data connections, links: a part gp2bm never writes
            is_link = part.startswith(EXTERNAL_PARTS)
            shape.parts[f"part {part}"] = "external link" if is_link else "present"
    if wb is None:
        if not isinstance(source, str):
            source.seek(0)
        wb = load_workbook(source)  # formulas as stored, not their cached values
    shape.parts["sheets"] = ", ".join(wb.sheetnames)
    for key, dn in wb.defined_names.items():
        shape.parts[f"defined name {key}"] = str(dn.attr_text)
    for i, _ in enumerate(getattr(wb, "_external_links", []), 1):
        shape.parts[f"external link {i}"] = "external link"
    for ws in wb.worksheets:
        _cells(ws, shape)
        _sheet_parts(ws, shape)
    return shape


def _short(value) -> str:
    if value is None:
        return "nothing"
    return repr(printable(value, SHORT)) if isinstance(value, str) else printable(value, SHORT)


def _texts_differ(claimed, expected) -> str:
    """``claimed X, recomputed Y``; two long texts alike at the start are quoted from a
    little before where they part, so the finding shows the difference."""
    if isinstance(claimed, str) and isinstance(expected, str):
        same = 0
        for x, y in zip(claimed, expected, strict=False):
            if x != y:
                break
            same += 1
        if same > SHORT // 2:
            start = same - SHORT // 4
            return (
                f"claimed {_short('...' + claimed[start:])}, recomputed "
                f"{_short('...' + expected[start:])} (alike for their first {same} characters)"
            )
    return f"claimed {_short(claimed)}, recomputed {_short(expected)}"


KINDS = {"f": "formula", "s": "text", "n": "number", "b": "boolean", "d": "date", "e": "error"}


def _typed(cell: tuple[str, object, str]) -> str:
    kind, value, _ = cell
    return "nothing" if kind == "empty" else f"{KINDS.get(kind, kind)} {_short(value)}"


def _cell_difference(where: str, claimed, expected) -> str | None:
    """What differs in one cell (type, value or formula, number format), or None;
    ``where``: the cell and its row's label."""
    a = claimed or ("empty", None, "General")
    b = expected or ("empty", None, "General")
    if a[0] != b[0]:
        return f"{where}: claimed {_typed(a)}, recomputed {_typed(b)}"
    if a[0] != "empty" and not close(a[1], b[1]):
        return f"{where}: {_texts_differ(a[1], b[1])}"
    if a[2] != b[2]:
        return f"{where}: number format {_short(a[2])}, recomputed {_short(b[2])}"
    return None


def differences(claimed: Shape, expected: Shape) -> list[str]:
    """Each cell and part that differs, in the order of the claimed workbook."""
    out = []
    for where in list(claimed.cells) + [w for w in expected.cells if w not in claimed.cells]:
        label = expected.labels.get(where) or claimed.labels.get(where)
        named = f"{where} ({printable(label, SHORT)})" if label else where
        found = _cell_difference(named, claimed.cells.get(where), expected.cells.get(where))
        if found is not None:
            out.append(found)
    for key in list(claimed.parts) + [k for k in expected.parts if k not in claimed.parts]:
        a, b = claimed.parts.get(key), expected.parts.get(key)
        if a != b:
            out.append(f"{printable(key, 2 * SHORT)}: {_texts_differ(a, b)}")
    return out

"""JSON files: written atomically (a reader never sees half a file), read strictly or
tolerantly. Only regular files are read (a FIFO or a device under a record's name must not
block or exhaust gp2bm), at most MAX_JSON_BYTES of them; an error names the file and the
problem, never the file's content.
"""

from __future__ import annotations

import json
from pathlib import Path

from gp2bm.errors import InputError
from gp2bm.files.atomic import write_text_atomic
from gp2bm.files.regular import open_regular

# gp2bm's JSON files (records, campaign.json, an inventory) are a few KB.
MAX_JSON_BYTES = 64 << 20


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync'd, then renamed
    (``files.atomic``: a failed write is one line naming the file and the fix)."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _read_bytes(path: Path) -> bytes:
    with open_regular(path, "a JSON file") as fh:
        data = fh.read(MAX_JSON_BYTES + 1)
    if len(data) > MAX_JSON_BYTES:
        raise InputError(f"{path}: over {MAX_JSON_BYTES} bytes is too large for a JSON file")
    return data


def read_json(path: Path) -> dict:
    """A JSON object, or InputError naming the file and the problem."""
    try:
        data = json.loads(_read_bytes(Path(path)).decode("utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        # its message names the position only, never the text
        raise InputError(f"{path}: not valid JSON ({exc.msg}: line {exc.lineno})") from None
    except (ValueError, RecursionError):  # digits over Python's limit; nesting too deep
        raise InputError(
            f"{path}: not valid JSON (a number too long or nesting too deep)"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def read_json_or_empty(path: Path | None) -> dict:
    """A JSON object, or {} when the file is missing, unreadable or not an object (caches,
    side files and records that a crash may have left half-written)."""
    if path is None:
        return {}
    try:
        data = json.loads(_read_bytes(Path(path)).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, InputError):
        return {}
    return data if isinstance(data, dict) else {}

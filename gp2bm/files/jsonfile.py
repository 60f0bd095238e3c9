"""JSON files: written atomically (a reader never sees half a file), read strictly or
tolerantly."""

from __future__ import annotations

import json
import os
from pathlib import Path

from gp2bm.errors import InputError


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync'd, then renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def temporary_path(path: Path) -> Path:
    """The temporary file ``write_json_atomic`` writes before the rename (per process)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def read_json(path: Path) -> dict:
    """A JSON object, or InputError naming the file and the problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    return data


def read_json_or_empty(path: Path | None) -> dict:
    """A JSON object, or {} when the file is missing, unreadable or not an object (caches,
    side files and records that a crash may have left half-written)."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}

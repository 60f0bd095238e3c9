"""Loading YAML documents and validating them against gp2bm's JSON Schemas.

Every failure becomes one InputError line naming the file, the YAML path and the problem.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gp2bm.errors import InputError

# A manifest is a few KB; anything far larger is not one (and guards against YAML bombs
# that expand aliases into gigabytes).
MAX_MANIFEST_BYTES = 1_000_000


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("gp2bm.spec.schemas").joinpath(f"{name}.schema.json").read_text()
    return json.loads(text)


def yaml_path(parts) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases: manifests never need them, bombs do."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases are not allowed in manifests", event.start_mark
            )
        return super().compose_node(parent, index)


def load_yaml(path: Path) -> Any:
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a YAML file")
    if size > MAX_MANIFEST_BYTES:
        raise InputError(f"{path}: {size} bytes is too large for a manifest")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}:{where}: YAML error: {problem}") from None


def validate(document: Any, schema_name: str, path: Path) -> None:
    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise InputError(f"{path}: at {yaml_path(best.absolute_path)}: {best.message}")


def load_validated(path: Path, schema_name: str) -> Any:
    document = load_yaml(path)
    validate(document, schema_name, path)
    return document

"""Loading YAML documents and validating them against gp2bm's JSON Schemas.

Every failure becomes one InputError line naming the file, the YAML path and the problem,
and never quoting what the file holds: a path given by mistake (``--suite /etc/shadow``)
must not print the file's lines. Keys are named (they are the document's structure, and
are shown with their control characters escaped), values never.

Refused besides: anything but a regular file, a file over MAX_MANIFEST_BYTES, aliases
(YAML bombs), a key given twice in one mapping (YAML would keep the last one silently),
nesting deeper than MAX_DEPTH.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gp2bm.errors import InputError
from gp2bm.files.plaintext import printable
from gp2bm.files.regular import open_regular

# A manifest is a few KB; anything far larger is not one (and guards against YAML bombs
# that expand aliases into gigabytes).
MAX_MANIFEST_BYTES = 1_000_000
# A suite or a manifest nests 4 levels deep; far deeper is an attack on the recursive
# YAML composer and the schema validator (100k-deep nesting would exhaust Python's stack).
MAX_DEPTH = 64
# What a name from the document may show in a message.
MAX_SHOWN = 40
# PyYAML quotes a character ('\t') or a token kind ('<scalar>') in its problems, and also
# tags and handles, which are the file's text: those are left out.
QUOTED_TEXT = re.compile(r"'(?!<)[^']{3,}'")
OWN_PROBLEMS = ("duplicate key", "nested deeper", "YAML aliases")
NAME_KEY = re.compile(r"[A-Za-z0-9_.-]{1,40}")


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("gp2bm.spec.schemas").joinpath(f"{name}.schema.json").read_text()
    return json.loads(text)


def shown(name: object, limit: int = MAX_SHOWN) -> str:
    """A text from the document, fit for a one-line message (files.plaintext.printable)."""
    return printable(name, limit)


def shown_key(key: object) -> str:
    """A key of the document, as a message may show it: a name (letters, digits, ``_.-``)
    as it is; anything else only by its length (a file given by mistake has its lines for
    keys: ``root:$y$...:19000:0:99999:7:::`` is a YAML key)."""
    text = str(key)
    if NAME_KEY.fullmatch(text):
        return text
    return f"(a key of {len(text)} characters)"


def quoted_key(key: object) -> str:
    text = shown_key(key)
    return f"'{text}'" if text == str(key) else text


def yaml_path(parts) -> str:
    out = ""
    for part in parts:
        part = part if isinstance(part, int) else shown_key(part)
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors/aliases (manifests never need them, bombs do), keys
    given twice in a mapping, and nesting deeper than MAX_DEPTH."""

    depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(
                None, None, "YAML aliases are not allowed in manifests", event.start_mark
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"nested deeper than {MAX_DEPTH} levels",
                    self.peek_event().start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: SafeLoader's own error says so
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {quoted_key(key)}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.2's booleans (its core schema): ``true`` and ``false`` only. YAML 1.1 (PyYAML's
# default) also reads yes/no/on/off as booleans, so that ``rcp: off`` or ``compliance: off``
# would silently become ``false``: here they are the words they are, and a schema that
# expects a boolean says so in one line.
BOOL_TAG = "tag:yaml.org,2002:bool"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
YAML11_WORDS = frozenset({"yes", "no", "on", "off", "y", "n"})


def _read_text(path: Path) -> str:
    """The file's text: a regular file of at most MAX_MANIFEST_BYTES, in UTF-8."""
    try:
        with open_regular(path, "a YAML file") as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise InputError(f"{path}: over {MAX_MANIFEST_BYTES} bytes is too large for a manifest")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _problem(exc: yaml.YAMLError) -> str:
    """What PyYAML says is wrong, without the file's text: its problem (a fixed phrase that
    quotes at most a character or a token's kind; a tag it quotes is left out), never its
    context lines."""
    if isinstance(exc, yaml.reader.ReaderError):
        return f"unacceptable character #x{exc.character:04x} at position {exc.position}"
    problem = getattr(exc, "problem", None)
    if not problem:
        return type(exc).__name__.replace("Error", " error").lower()
    if not problem.startswith(OWN_PROBLEMS):
        problem = QUOTED_TEXT.sub("'(text of the file)'", problem)
    return shown(problem, 2 * MAX_SHOWN)


def load_yaml(path: Path) -> Any:
    path = Path(path)
    text = _read_text(path)
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}: line {mark.line + 1} column {mark.column + 1}" if mark else f"{path}"
        raise InputError(f"{where}: YAML error: {_problem(exc)}") from None
    except RecursionError:
        raise InputError(f"{path}: YAML error: nested too deep") from None


def validate(document: Any, schema_name: str, path: Path) -> None:
    validator = jsonschema.Draft202012Validator(load_schema(schema_name))
    try:
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    except RecursionError:
        raise InputError(f"{path}: nested too deep") from None
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise InputError(f"{path}: at {yaml_path(best.absolute_path)}: {schema_message(best)}")


def schema_message(error: jsonschema.ValidationError) -> str:
    """What a schema error says, in words taken from the schema (and key names), never
    from the document's values: jsonschema's own messages quote the value."""
    keyword, expected = error.validator, error.validator_value
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        found = f"expected {' or '.join(map(str, kinds))}, found {_kind(error.instance)}"
        word = isinstance(error.instance, str) and error.instance.lower() in YAML11_WORDS
        if word and "boolean" in kinds:
            found += " (write true or false: yes, no, on and off are words here, as in YAML 1.2)"
        return found
    if keyword in ("enum", "const"):
        allowed = expected if keyword == "enum" else [expected]
        assert isinstance(allowed, list)  # an enum's value is a list (the metaschema's rule)
        return "must be one of " + ", ".join(json.dumps(v) for v in allowed)
    if keyword in BOUNDS:
        return f"must be {BOUNDS[keyword]} {expected}"
    if keyword in ("required", "additionalProperties", "dependentRequired"):
        return _keys_message(error)
    if keyword == "pattern":
        if "propertyNames" in error.schema_path:
            return f"key {quoted_key(error.instance)} must match the pattern {expected}"
        return f"must match the pattern {expected}"
    if keyword in SIZES:
        return f"{SIZES[keyword]} {expected}"
    if keyword in ("oneOf", "anyOf") and isinstance(expected, list):
        words = [_alternative(a) for a in expected]
        if all(words):
            return "must be " + " or ".join(w or "" for w in words)
    return f"does not satisfy '{keyword}' of the schema"


def _alternative(schema: object) -> str | None:
    """One alternative of a ``oneOf`` in words (a type, or the values of an enum), else None."""
    if not isinstance(schema, dict):
        return None
    if set(schema) - {"description"} == {"type"}:
        return f"a {schema['type']}"
    if "enum" in schema and set(schema) - {"description", "default"} == {"enum"}:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    return None


def load_validated(path: Path, schema_name: str) -> Any:
    document = load_yaml(path)
    validate(document, schema_name, path)
    return document


BOUNDS = {
    "minimum": ">=",
    "maximum": "<=",
    "exclusiveMinimum": ">",
    "exclusiveMaximum": "<",
    "multipleOf": "a multiple of",
}
SIZES = {
    "minLength": "must have at least this many characters:",
    "maxLength": "must have at most this many characters:",
    "minItems": "must have at least this many items:",
    "maxItems": "must have at most this many items:",
    "minProperties": "must have at least this many keys:",
    "maxProperties": "must have at most this many keys:",
    "uniqueItems": "items must be unique:",
}
KINDS = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a mapping"),
    (type(None), "nothing (null)"),
)


def _kind(value: Any) -> str:
    for cls, words in KINDS:
        if isinstance(value, cls):
            return words
    return type(value).__name__


def _keys_message(error: jsonschema.ValidationError) -> str:
    """required / unexpected keys: the names, shown safely."""
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema
        assert isinstance(schema, Mapping)  # the keyword sits in a schema object
        known = set(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        extra = [
            k
            for k in error.instance
            if k not in known and not any(p.search(str(k)) for p in patterns)
        ]
        names = ", ".join(quoted_key(k) for k in extra[:5])
        return f"unexpected key{'s' if len(extra) > 1 else ''} {names}"
    return shown(error.message, 2 * MAX_SHOWN)

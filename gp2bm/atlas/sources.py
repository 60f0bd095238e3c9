"""What a round's results repository holds for ResNet and BERT: its result sets and the
system description of each, with every round's spellings of the description's fields.

The layout, in every round from v0.7 to v5.0: ``<Submitter>/results/<system>/<benchmark>/
result_*.txt`` (any ``result_*.txt`` is a log, as in MLCommons' summarizer), a
``scaling.json`` beside the logs in rounds with RCP normalisation, and ``<Submitter>/
systems/<system>.json``. Logs in a sub-folder of a benchmark folder (a power measurement's,
or a set filed one level too deep) are not part of its result set, as for MLCommons' tools:
they are listed as not read. The system descriptions' fields vary: ``divison`` and
``number of nodes`` (v0.7), ``framework_name`` beside ``framework`` (v4.0 on), counts as
strings or numbers ("1", "1.0", 1), the division as "close", "Closed" or "Open", and the
status as some twenty spellings of three categories.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass

from gp2bm.atlas.mirror import TreeEntry
from gp2bm.atlas.table import BENCHMARKS

# The rounds of MLPerf Training with ResNet-50 or BERT-large results (ResNet until v4.0,
# BERT until v5.0; both retired since).
ROUNDS = ("v0.7", "v1.0", "v1.1", "v2.0", "v2.1", "v3.0", "v3.1", "v4.0", "v4.1", "v5.0")
REPOSITORY = "mlcommons/training_results_{round}"
RESULT_GLOB = "result_*.txt"
SCALING_FILE = "scaling.json"

SET_RE = re.compile(r"^([^/]+)/results/([^/]+)/([^/]+)/(.+)$")
SYSTEM_RE = re.compile(r"^([^/]+)/systems/([^/]+)\.json$")

# A field of the system description, and its other spellings in published rounds.
FIELD_SPELLINGS = {
    "division": ("division", "divison"),
    "number_of_nodes": ("number_of_nodes", "number of nodes"),
    "accelerators_per_node": ("accelerators_per_node",),
    "accelerator_model_name": ("accelerator_model_name",),
    "host_processor_model_name": ("host_processor_model_name",),
    "framework": ("framework", "framework_name"),
    "status": ("status",),
}
DIVISION_SPELLINGS = {"closed": "closed", "close": "closed", "open": "open"}
# MLCommons' availability categories, from the status as published ("onprem", "Available
# on-premise", "cloud", ...): the first word found decides.
AVAILABILITY_WORDS = (
    ("preview", "preview"),
    ("research", "research"),
    ("available", "available"),
    ("onprem", "available"),
    ("on-prem", "available"),
    ("on prem", "available"),
    ("cloud", "available"),
)


def ruleset_of(round_: str) -> str:
    """The mlperf-logging ruleset of a round: v2.1 -> 2.1.0."""
    return f"{round_.lstrip('v')}.0"


@dataclass(frozen=True)
class ResultSet:
    round: str
    submitter: str
    system: str
    benchmark: str
    logs: tuple[TreeEntry, ...]
    scaling: TreeEntry | None

    @property
    def folder(self) -> str:
        return f"{self.submitter}/results/{self.system}/{self.benchmark}"

    @property
    def system_path(self) -> str:
        return f"{self.submitter}/systems/{self.system}.json"


@dataclass(frozen=True)
class Unread:
    """Something the build could not read (or, by MLCommons' rules, did not), and why."""

    round: str
    path: str
    why: str

    def as_dict(self) -> dict:
        return {"path": self.path, "why": self.why}


@dataclass(frozen=True)
class SystemFacts:
    """What a row keeps of its system description (named as the row's fields)."""

    division: str
    status: str
    availability: str
    accelerator_published: str
    accelerators_per_node: int | None
    nodes: int | None
    host_cpu: str
    framework: str


def find_sets(round_: str, entries: list[TreeEntry]) -> tuple[list[ResultSet], list[Unread]]:
    """The ResNet and BERT result sets of a round's tree, and the logs that are in none."""
    logs: dict[tuple[str, str, str], list[TreeEntry]] = defaultdict(list)
    scaling: dict[tuple[str, str, str], TreeEntry] = {}
    deeper: dict[str, int] = defaultdict(int)
    for entry in entries:
        match = SET_RE.match(entry.path)
        if match is None or match.group(3) not in BENCHMARKS:
            continue
        submitter, system, benchmark, rest = match.groups()
        key = (submitter, system, benchmark)
        if "/" in rest:
            if fnmatch.fnmatchcase(rest.rsplit("/", 1)[1], RESULT_GLOB):
                deeper[entry.path.rsplit("/", 1)[0]] += 1
        elif fnmatch.fnmatchcase(rest, RESULT_GLOB):
            logs[key].append(entry)
        elif rest == SCALING_FILE:
            scaling[key] = entry
    sets = [
        ResultSet(round_, *key, tuple(sorted(found, key=lambda e: e.path)), scaling.get(key))
        for key, found in sorted(logs.items())
    ]
    unread = [
        Unread(
            round_,
            folder,
            f"{n} result log(s) in a sub-folder of a benchmark folder: not part of its result "
            "set (MLCommons reads a benchmark folder's own logs only)",
        )
        for folder, n in sorted(deeper.items())
    ]
    return sets, unread


def field(doc: dict, name: str) -> object:
    """A system description's field under any of its published spellings (None: absent)."""
    for spelling in FIELD_SPELLINGS[name]:
        if spelling in doc:
            return doc[spelling]
    return None


def _count(value: object) -> int | None:
    """A count as published ("8", "1.0", 8), or None when it is not a whole number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    if not math.isfinite(number) or number < 0 or number != int(number):
        return None
    return int(number)


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def availability_of(status: str) -> str | None:
    """MLCommons' availability category of a published status, or None."""
    folded = status.casefold()
    return next((category for word, category in AVAILABILITY_WORDS if word in folded), None)


def system_facts(doc: dict) -> tuple[SystemFacts, list[str]]:
    """The facts the atlas keeps of a system description, and what in it is unreadable."""
    problems = []
    division_text = _text(field(doc, "division"))
    division = DIVISION_SPELLINGS.get(division_text.casefold())
    if division is None:
        problems.append(f"division {division_text!r} is neither closed nor open")
    status = _text(field(doc, "status"))
    availability = availability_of(status)
    if availability is None:
        problems.append(f"status {status!r} names no availability category")
    per_node = _count(field(doc, "accelerators_per_node"))
    nodes = _count(field(doc, "number_of_nodes"))
    for name, value in (("accelerators_per_node", per_node), ("number_of_nodes", nodes)):
        if value is None:
            problems.append(f"{name} {field(doc, name)!r} is not a whole number")
    facts = SystemFacts(
        division=division or division_text,
        status=status,
        availability=availability or status,
        accelerator_published=_text(field(doc, "accelerator_model_name")),
        accelerators_per_node=per_node,
        nodes=nodes,
        host_cpu=_text(field(doc, "host_processor_model_name")),
        framework=_text(field(doc, "framework")),
    )
    return facts, problems


def read_system(data: bytes | None) -> tuple[dict | None, str | None]:
    """A system description's JSON object, or why it cannot be read."""
    if data is None:
        return None, "the system description is not in the repository's store"
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"the system description is not JSON ({exc})"
    if not isinstance(doc, dict):
        return None, "the system description is not a JSON object"
    return doc, None

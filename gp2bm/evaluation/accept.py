"""The buyer's acceptance check: a campaign re-run on the delivered system, held to the
committed bundle (``gp2bm accept COMMITTED_BUNDLE CAMPAIGN``).

What no bundle proves (that its runs happened on the hardware claimed) a re-run shows. In
order:

1. The committed bundle is verified (``verify.verify_tree``, by the evaluator's rules:
   ``--suite``, else gp2bm's suite of the bundle's suite's name); a bundle that is not
   verified cannot be accepted against.
2. The acceptance campaign is scored under the same reference rules (its names, their
   rules); a rule of its suite that differs is a difference, and so is a result that is
   not valid.
3. Compared, each said in words: the images (each benchmark's image IDs, the content
   digests of what ran), the implementation source (every file the bundle holds against
   the same staging of the campaign's, by SHA-256), the hardware (accelerator model,
   count and memory, driver, CPU model, logical CPUs, memory, node count: from the
   inventories and the run records' node facts), and per benchmark the acceptance result
   against the committed one, both with their 95 % intervals.
4. A benchmark passes when the acceptance result is no slower than the committed one by
   more than the tolerance: ``--tolerance PCT`` (the RFP's), else per benchmark the larger
   of MLPerf's stated variance (2.5 % image, 5 % other) and how far the committed result's
   95 % interval reaches above it. Faster always passes.

A difference of images, source or hardware is accepted only by name (``--accept image``,
``--accept driver``, ...: ``DIFFERENCES``), as the reservations of the committed bundle
are (``campaign.trust.RESERVATIONS``). Accepted when no benchmark fails and every
difference is accepted; exit 1 naming each otherwise.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.campaign.resolve import campaign_suite
from gp2bm.campaign.trust import ACCEPTANCE_DIFFERENCES, MEMORY_SLACK, RESERVATIONS
from gp2bm.errors import Gp2bmError, InputError, InvalidError
from gp2bm.evaluation.hardware import node_accounts
from gp2bm.evaluation.reference import reference_suite, rule_differences, scoring_suite
from gp2bm.evaluation.verify import top_folder, verify_tree
from gp2bm.files import safetar
from gp2bm.files.plaintext import printable
from gp2bm.handin.limits import BUNDLE
from gp2bm.handin.scratch import check_stopped, scratch
from gp2bm.handin.source import stage_source
from gp2bm.node.measured import same_cpu
from gp2bm.reports.official import official_summary
from gp2bm.reports.view import CampaignView, images_used, load_campaign
from gp2bm.results.spread import stated_variance
from gp2bm.results.verdictcache import VerdictCache, default_cache_dir
from gp2bm.runtimes import DEFAULT
from gp2bm.spec.suite import Suite

# The kinds of difference between the committed system and the delivered one, each accepted
# only by name.
DIFFERENCES = ACCEPTANCE_DIFFERENCES
SHOWN_FILES = 5


@dataclass(frozen=True)
class Difference:
    kind: str  # a key of DIFFERENCES, or "rules", "committed", "result" (never accepted)
    text: str
    accepted: bool = False

    def as_dict(self) -> dict:
        return {"kind": self.kind, "text": self.text, "accepted": self.accepted}


@dataclass(frozen=True)
class BenchmarkAcceptance:
    """One benchmark: the acceptance result against the committed one."""

    name: str
    committed: dict  # official_summary of each side
    delivered: dict
    change: float | None  # delivered / committed - 1 (None: a side has no result)
    tolerance: float
    tolerance_rule: str
    passed: bool

    def line(self) -> str:
        def side(s: dict) -> str:
            if s.get("minutes") is None:
                return "no result"
            interval = s.get("interval") or {}
            low, high = interval.get("low"), interval.get("high")
            ends = (
                f"{low:.6f} to {high:.6f}"
                if low is not None and high is not None
                else "no interval"
            )
            return f"{s['minutes']:.6f} min (95 % interval {ends})"

        if self.change is None:
            how = "not compared (a side has no result)"
        else:
            word = "slower" if self.change > 0 else "faster"
            how = (
                f"{abs(self.change) * 100:.1f} % {word}, "
                f"{'within' if self.passed else 'beyond'} the tolerance of "
                f"{self.tolerance * 100:.1f} % ({self.tolerance_rule})"
            )
        return (
            f"{self.name}: committed {side(self.committed)}, delivered "
            f"{side(self.delivered)}: {how}"
        )

    def as_dict(self) -> dict:
        return {
            "committed": self.committed,
            "delivered": self.delivered,
            "change": self.change,
            "tolerance": self.tolerance,
            "tolerance_rule": self.tolerance_rule,
            "passed": self.passed,
            "line": self.line(),
        }


@dataclass
class Acceptance:
    bundle: Path
    campaign: Path
    reference: dict = field(default_factory=dict)
    accepted: list[str] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)  # what was compared, in words
    differences: list[Difference] = field(default_factory=list)
    benchmarks: dict[str, BenchmarkAcceptance] = field(default_factory=dict)
    committed_score: float | None = None
    delivered_score: float | None = None
    ledger_lines: list[str] = field(default_factory=list)  # the acceptance campaign's

    def differ(self, kind: str, text: str) -> None:
        self.differences.append(Difference(kind, text, kind in self.accepted))

    @property
    def open_differences(self) -> list[Difference]:
        return [d for d in self.differences if not d.accepted]

    @property
    def failed_benchmarks(self) -> list[BenchmarkAcceptance]:
        return [b for b in self.benchmarks.values() if not b.passed]

    @property
    def ok(self) -> bool:
        return not self.open_differences and not self.failed_benchmarks and bool(self.benchmarks)

    def as_dict(self) -> dict:
        return {
            "bundle": str(self.bundle),
            "campaign": str(self.campaign),
            "accepted": self.ok,
            "reference": self.reference,
            "accepting": list(self.accepted),
            "compared": list(self.compared),
            "differences": [d.as_dict() for d in self.differences],
            "benchmarks": {n: b.as_dict() for n, b in self.benchmarks.items()},
            "committed_score": self.committed_score,
            "delivered_score": self.delivered_score,
            "ledger": list(self.ledger_lines),
        }

    def failure(self) -> InvalidError | None:
        if self.ok:
            return None
        named = [f"{b.name} {b.line().split(': ', 2)[-1]}" for b in self.failed_benchmarks]
        named += [f"{d.kind}: {d.text}" for d in self.open_differences]
        if not self.benchmarks and not named:
            named = ["no benchmark compared"]
        return InvalidError(
            f"{self.campaign}: not accepted against {self.bundle}: {len(named)} finding(s); "
            f"first: {named[0]}"
        )


# ---------------------------------------------------------------------------- the sides


def _files(folder: Path) -> dict[str, str]:
    """Every regular file under ``folder`` by its relative path, with its SHA-256."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[path.relative_to(folder).as_posix()] = digest
    return out


def _listed(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(printable(n, 80) for n in names[:SHOWN_FILES])
    more = f" and {len(names) - SHOWN_FILES} more" if len(names) > SHOWN_FILES else ""
    return shown + more


def _image_ids(view: CampaignView) -> dict[str, set[str]]:
    """Per benchmark, the image IDs its runs used ("no image" for the local runtime)."""
    out: dict[str, set[str]] = {}
    for bench, uses in images_used(view).items():
        out[bench] = {u.image_id or f"no image ({u.runtime or 'unknown runtime'})" for u in uses}
    return out


def _facts(view: CampaignView) -> dict[str, set]:
    """What a side says of its node(s): from the run records' node facts, and the
    inventory for what they do not hold (driver, accelerator memory)."""
    records = [run.record for runs in view.runs.values() for run in runs if run.record]
    facts = node_accounts(records)  # as verify reads them (each node of a run across nodes)
    gpus = (view.inventory or {}).get("gpus") or {}
    devices = gpus.get("gpus") if isinstance(gpus, dict) else None
    facts["driver"] = {gpus.get("driver_version")} if isinstance(gpus, dict) else set()
    facts["gpu_memory"] = {
        d.get("memory_total_bytes") for d in devices or [] if isinstance(d, dict)
    }
    facts["nodes"] = {view.suite.nodes}
    return facts


def _shown(values: set) -> str:
    known = sorted(str(v) for v in values if v not in (None, ""))
    return ", ".join(known) if known else "not known"


# ---------------------------------------------------------------------------- the checks


def _compare_rules(result: Acceptance, delivered: Suite, reference: Suite) -> None:
    for text in rule_differences(delivered, reference):
        result.differ("rules", f"the acceptance campaign's suite: {text}")
    result.compared.append(
        f"rules: the acceptance campaign scored by {reference.name}'s rules (the committed "
        "bundle's reference)"
    )


def _compare_images(result: Acceptance, committed: CampaignView, delivered: CampaignView) -> None:
    ours, theirs = _image_ids(committed), _image_ids(delivered)
    same = True
    for bench in sorted(set(ours) | set(theirs)):
        a, b = ours.get(bench, set()), theirs.get(bench, set())
        if a != b:
            same = False
            result.differ(
                "image",
                f"{bench}: the committed runs used {_listed(a) or 'none'}, the acceptance "
                f"runs {_listed(b) or 'none'}",
            )
    result.compared.append(
        "images: each benchmark's image IDs (the content digest of what ran), from the run "
        f"records: {'the same' if same else 'different'}"
    )


def _stage_delivered(view: CampaignView, bench: str, target: Path, work: Path) -> list[str]:
    """The acceptance campaign's source of ``bench``, staged as ``package`` stages it."""
    notes: list[str] = []
    manifest = view.manifests[bench]
    used = images_used(view).get(bench, [])
    runtime = (used[0].runtime if used else None) or view.meta.runtime or DEFAULT
    stage_source(
        bench,
        manifest,
        [u.as_dict() for u in used],
        runtime,
        target,
        work,
        notes,
        images_dir=view.layout.images_dir,
    )
    return notes


def _compare_source(
    result: Acceptance, committed: CampaignView, delivered: CampaignView, work: Path
) -> None:
    same = True
    for bench in sorted(committed.suite.benchmarks):
        manifest = committed.manifests.get(bench)
        if manifest is None or bench not in delivered.manifests:
            continue
        held = committed.layout.implementation_dir(bench, manifest.implementation_name)
        staged = work / f"source-{bench}"
        try:
            _stage_delivered(delivered, bench, staged, work / f"export-{bench}")
        except Gp2bmError as exc:
            same = False
            result.differ("source", f"{bench}: the acceptance campaign's source: {exc}")
            continue
        a, b = _files(held) if held.is_dir() else {}, _files(staged)
        if a == b:
            continue
        same = False
        changed = [n for n in set(a) & set(b) if a[n] != b[n]]
        parts = [
            f"{len(what)} file(s) {how} ({_listed(what)})"
            for what, how in (
                (sorted(set(a) - set(b)), "only in the committed bundle"),
                (sorted(set(b) - set(a)), "only in the acceptance campaign"),
                (changed, "changed"),
            )
            if what
        ]
        result.differ("source", f"{bench}: " + "; ".join(parts))
    result.compared.append(
        "implementation source: every file of the committed bundle's source against the "
        f"acceptance campaign's, staged as package stages it, by SHA-256: "
        f"{'the same' if same else 'different'}"
    )


def _memory_differs(a: set, b: set) -> bool:
    left = [float(v) for v in a if isinstance(v, int | float)]
    right = [float(v) for v in b if isinstance(v, int | float)]
    if not left or not right:
        return bool(left) != bool(right)
    return any(abs(x - y) > MEMORY_SLACK * max(x, y) for x in left for y in right)


def _compare_hardware(
    result: Acceptance, committed: CampaignView, delivered: CampaignView
) -> None:
    a, b = _facts(committed), _facts(delivered)
    checks = [
        ("accelerator", "models", "accelerator model", a["models"] != b["models"]),
        ("accelerator-count", "gpus", "accelerators per node", a["gpus"] != b["gpus"]),
        (
            "accelerator-memory",
            "gpu_memory",
            "accelerator memory (bytes)",
            a["gpu_memory"] != b["gpu_memory"],
        ),
        ("driver", "driver", "GPU driver", a["driver"] != b["driver"]),
        ("cpu", "cpu", "host CPU model", not _same_cpus(a["cpu"], b["cpu"])),
        ("cpu", "cpus", "logical CPUs", a["cpus"] != b["cpus"]),
        ("memory", "memory", "host memory (GiB)", _memory_differs(a["memory"], b["memory"])),
        ("nodes", "nodes", "nodes per run", a["nodes"] != b["nodes"]),
    ]
    differing = []
    for kind, key, label, differs in checks:
        if differs:
            differing.append(label)
            result.differ(
                kind,
                f"{label}: committed {_shown(a[key])}, delivered {_shown(b[key])}",
            )
    result.compared.append(
        "hardware: accelerator model, count and memory, GPU driver, host CPU model and "
        "logical CPUs, host memory, nodes per run (the inventories and the run records' node "
        f"facts): {'the same' if not differing else 'different: ' + ', '.join(differing)}"
    )


def _same_cpus(a: set, b: set) -> bool:
    left = [str(v) for v in a if v]
    right = [str(v) for v in b if v]
    if len(left) != len(right):
        return False
    return all(any(same_cpu(x, y) for y in right) for x in left)


def benchmark_tolerance(
    name: str, committed: dict, given: float | None
) -> tuple[float, str]:
    """The tolerance of one benchmark (a fraction) and the rule it came from."""
    if given is not None:
        return given, "the tolerance given"
    minutes = committed.get("minutes")
    stated = stated_variance(name, minutes).fraction
    high = (committed.get("interval") or {}).get("high")
    reach = high / minutes - 1 if minutes and high else 0.0
    if reach > stated:
        return reach, "the committed result's 95 % interval above it"
    return stated, f"MLPerf's stated variance of {stated_variance(name, minutes).area} benchmarks"


def _compare_results(
    result: Acceptance, committed: CampaignView, delivered: CampaignView, given: float | None
) -> None:
    for name in committed.suite.benchmarks:
        c = committed.score.benchmarks.get(name)
        d = delivered.score.benchmarks.get(name)
        ours = official_summary(c) if c is not None else {"minutes": None}
        theirs = official_summary(d) if d is not None else {"minutes": None}
        tolerance, rule = benchmark_tolerance(name, ours, given)
        change = None
        mine, found = ours.get("minutes"), theirs.get("minutes")
        if isinstance(mine, float) and mine > 0 and isinstance(found, float) and theirs["valid"]:
            change = found / mine - 1
        passed = change is not None and change <= tolerance
        result.benchmarks[name] = BenchmarkAcceptance(
            name, ours, theirs, change, tolerance, rule, passed
        )
    result.committed_score = committed.score.score
    result.delivered_score = delivered.score.score
    result.compared.append(
        "results: each benchmark's acceptance result against the committed one, both "
        "recomputed from their logs by the same rules, with their 95 % intervals; a benchmark "
        "passes when it is no slower than the committed result by more than its tolerance"
    )


# ---------------------------------------------------------------------------- the check


def _check_names(accept: frozenset[str]) -> None:
    known = [*RESERVATIONS, *DIFFERENCES]
    unknown = sorted(set(accept) - set(known))
    if unknown:
        raise InputError(f"--accept {unknown[0]}: no such name (known: {', '.join(known)})")


def accept_campaign(
    bundle: Path,
    campaign: Path,
    suite_path: Path | None = None,
    tolerance_pct: float | None = None,
    accept: frozenset[str] = frozenset(),
) -> Acceptance:
    """Hold the acceptance ``campaign`` to the committed ``bundle`` (see the module)."""
    _check_names(accept)
    if tolerance_pct is not None and not 0 <= tolerance_pct < 1000:
        raise InputError(f"--tolerance {tolerance_pct}: a percentage from 0 to 1000 expected")
    given = None if tolerance_pct is None else tolerance_pct / 100
    bundle, campaign = Path(bundle), Path(campaign)
    if not campaign.is_dir():
        raise InputError(f"{campaign}: no such campaign folder")
    result = Acceptance(bundle, campaign, accepted=sorted(accept))
    with scratch("accept") as tmp:
        if bundle.is_dir():
            top = top_folder(bundle)
        else:
            safetar.extract(bundle, tmp / "bundle", limits=BUNDLE)
            top = top_folder(tmp / "bundle")
        verification = verify_tree(top, bundle, suite_path, accept=accept & set(RESERVATIONS))
        check_stopped()
        result.reference = verification.reference
        failure = verification.failure()
        if failure is not None or verification.view is None:
            why = str(failure) if failure is not None else "its logs cannot be read"
            result.differ("committed", f"the committed bundle is not verified: {why}")
            return result
        committed = verification.view
        reference = reference_suite(suite_path, committed.suite).suite
        _, delivered_suite = campaign_suite(campaign)
        delivered = load_campaign(
            campaign,
            cache=VerdictCache(default_cache_dir()),
            suite=scoring_suite(delivered_suite, reference),
        )
        result.ledger_lines = delivered.ledger.lines()
        _compare_rules(result, delivered_suite, reference)
        if not delivered.score.valid:
            problems = [p for b in delivered.score.benchmarks.values() for p in b.problems]
            problems += [f"{n}: no results" for n in delivered.score.missing]
            result.differ(
                "result",
                "the acceptance campaign is not valid: " + ("; ".join(problems[:3]) or "no score"),
            )
        _compare_images(result, committed, delivered)
        _compare_source(result, committed, delivered, tmp)
        _compare_hardware(result, committed, delivered)
        _compare_results(result, committed, delivered, given)
    return result


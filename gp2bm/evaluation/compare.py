"""Several vendors' bundles side by side, each claim recomputed (``gp2bm compare BUNDLE...``).

An RFP receives several responses; the evaluator holds every one to the same rules:

1. One reference suite for all: the evaluator's ``--suite`` file, else gp2bm's built-in
   GP2BM suite (never each bundle's own, nor each bundle's name: a ranking is fair only
   under one set of rules). The ``--accept`` names are reservations (as ``verify``'s), for
   every bundle alike.
2. Each bundle verified exactly as ``gp2bm verify`` verifies it (``verify.verify_bundle``:
   the archive's limits, the sizes of what is read, every recomputation, cross-check and
   reservation). Several bundles are verified in parallel: a pool of
   ``min(cores, bundles)`` processes forked from this one, one bundle at a time each, so
   that each stays within verify's own memory and time bounds (``handin.limits``). Each
   worker watches for this process (``checkpool.start_worker``), whose thread means that
   ``verify`` inside it forks neither its side process nor checker processes
   (``checkpool.can_fork``): one process per bundle, never more processes than cores. A
   process that runs threads does not fork (``can_fork``): where ``verify``'s side process
   was forked and not yet taken (``early``), its executor's thread keeps the workers from
   inheriting a copy of it that nothing would ever answer; the bundles are then verified
   here, one after the other, the first taking that side as ``verify`` does. So is one
   bundle. A worker lost (killed) has its bundles verified here.
3. What each verification says is taken as plain data (``Verification.as_dict``) with the
   few facts of its recomputed view a comparison shows (``bundle_facts``: the submitter, the
   system, the accelerator model and count, the nodes, each run's minutes and role, the
   hardware in the system description's words).
4. The bundles that verify are ranked by the RFP score (by the reference's direction), each
   benchmark's result with its 95 % interval and the runs' range, and judged against the
   published results (``atlas.plausibility``); the bundles that do not verify are set apart,
   never ranked, each with its first findings; a bundle that cannot be read at all is set
   apart with the reason. Two bundles of the same vendor and system are both shown, each
   flagged with the other.

Deterministic: the same bundles in any order give the same comparison (sorted by score,
then by vendor, system, file name and SHA-256), except the time it was made.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gp2bm import __version__
from gp2bm.atlas import Atlas, load_atlas, plausibility
from gp2bm.atlas.claims import CANNOT_JUDGE
from gp2bm.errors import Gp2bmError, InputError, Interrupted, InvalidError
from gp2bm.evaluation import early
from gp2bm.evaluation.hardware import accelerator
from gp2bm.evaluation.reference import reference_suite
from gp2bm.evaluation.verify import check_reservation_names, check_template_file, verify_bundle
from gp2bm.files.checksums import sha256_file
from gp2bm.files.plaintext import printable
from gp2bm.files.signals import owned_handler
from gp2bm.handin.scratch import check_stopped, unscratched
from gp2bm.reports.view import CampaignView
from gp2bm.reports.workprogress import WorkProgress
from gp2bm.results.checkpool import available_cores, can_fork, start_worker
from gp2bm.results.energy import BenchmarkEnergy
from gp2bm.results.mlcommons import install
from gp2bm.spec.suite import DEFAULT_SUITE

# The class of the one finding of a bundle that could not be read at all.
UNREADABLE = "unreadable"
# How many findings of a bundle set apart the ranking's tables show (the JSON has all).
FIRST_FINDINGS = 3
# How long a worker asked to stop may take to remove its scratch folder.
END_WAIT_S = 5.0
# The system description's fields a comparison shows as the hardware, in this order.
HARDWARE_FIELDS = (
    "accelerators_per_node",
    "accelerator_model_name",
    "accelerator_memory_capacity",
    "accelerator_interconnect",
    "number_of_nodes",
    "host_processors_per_node",
    "host_processor_model_name",
    "host_processor_core_count",
    "host_memory_capacity",
    "host_networking",
    "framework",
    "operating_system",
)


# ---------------------------------------------------------------------------- one bundle


def _whole(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _inventory_accelerators(inventory: dict | None) -> tuple[str, int | None]:
    gpus = (inventory or {}).get("gpus")
    devices = gpus.get("gpus") if isinstance(gpus, dict) else None
    if not isinstance(devices, list):
        return "", None
    names = sorted({accelerator(d.get("name")) for d in devices if isinstance(d, dict)})
    return " + ".join(n for n in names if n), len(devices)


def bundle_facts(view: CampaignView) -> dict:
    """What a comparison shows of a recomputed bundle: who, which system, which hardware
    (the system description, which verify holds to the inventory and the run records; the
    inventory where the description says nothing), and every run's minutes and role."""
    desc = view.system_desc or {}
    model = accelerator(desc.get("accelerator_model_name"))
    per_node = _whole(desc.get("accelerators_per_node"))
    measured_model, measured_count = _inventory_accelerators(view.inventory)
    runs = {
        name: [
            {"file": r.file, "minutes": r.minutes, "role": r.role.value, "counted": r.counted}
            for r in bench.runs
        ]
        for name, bench in view.score.benchmarks.items()
    }
    return {
        "org": view.org,
        "system": view.system,
        "submitter": str(desc.get("submitter") or view.org),
        "system_name": str(desc.get("system_name") or view.system),
        "accelerator": model or measured_model,
        "accelerators_per_node": per_node if per_node is not None else measured_count,
        "nodes": _whole(desc.get("number_of_nodes")) or view.suite.nodes,
        "hardware": {k: str(desc[k]) for k in HARDWARE_FIELDS if desc.get(k) not in (None, "")},
        "driver": ((view.inventory or {}).get("gpus") or {}).get("driver_version"),
        "suite": view.suite.name,
        "runs": runs,
        "energy": {name: _energy(bench.energy) for name, bench in view.score.benchmarks.items()},
    }


def _energy(energy: BenchmarkEnergy | None) -> dict:
    """A benchmark's energy as a comparison shows it (recomputed from the bundled power
    logs, the olympic mean over the score's runs): kWh, average node power, the source."""
    if energy is None:
        return {"kwh": None, "average_w": None, "source": None, "reason": "no power logs"}
    watts = [r.average_w for r in energy.runs if r.joules is not None and r.average_w]
    return {
        "kwh": energy.kwh,
        "average_w": sum(watts) / len(watts) if watts else None,
        "source": next((str(r.source) for r in energy.runs if r.source), None),
        "reason": energy.reason,
    }


def verify_one(bundle: str, suite: str, accept: list[str], template: str | None = None) -> dict:
    """One bundle verified, as plain data: ``{bundle, sha256, error, verification, facts}``
    (``error``: why it could not be read at all; a scratch folder's path in a text is
    written ``<scratch>``: it names a folder that is gone); ``template``: the RFP's own
    workbook, to hold its template to (``verify --template``)."""
    path = Path(bundle)
    out: dict = {"bundle": bundle, "sha256": None, "error": None, "verification": None,
                 "facts": None}  # fmt: skip
    try:
        out["sha256"] = sha256_file(path) if path.is_file() else None
        given = Path(template) if template is not None else None
        verification = verify_bundle(path, Path(suite), frozenset(accept), given)
    except Interrupted:
        raise
    except Gp2bmError as exc:
        out["error"] = unscratched(str(exc))
        return out
    data = verification.as_dict()
    for finding in data["findings"]:
        finding["text"] = unscratched(finding["text"])
    out["verification"] = data
    if verification.view is not None:
        out["facts"] = bundle_facts(verification.view)
    return out


# ---------------------------------------------------------------------------- the pool


def _stop(signum, frame) -> None:
    raise Interrupted("gp2bm compare stopped by SIGTERM (its scratch folders removed)")


def _start_worker(parent: int) -> None:
    """A worker: one BLAS thread, it ends when this process does (``start_worker``), and
    SIGTERM stops its verification (its scratch folder removed) instead of killing it."""
    start_worker(parent)
    signal.signal(signal.SIGTERM, owned_handler(_stop))


def _worker_job(bundle: str, suite: str, accept: list[str], template: str | None) -> dict:
    """``verify_one`` in a worker; stopped (SIGTERM, Ctrl-C), the worker ends once its
    verification has removed its scratch folder."""
    try:
        return verify_one(bundle, suite, accept, template)
    except (Interrupted, KeyboardInterrupt):
        os._exit(130)


def _end(pool: ProcessPoolExecutor) -> None:
    """Stop the workers (each removes its scratch folder), then kill what is left."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(END_WAIT_S)
    early.end_now(pool)


def _collect(
    futures: dict[Future, str],
    suite: str,
    accept: list[str],
    template: str | None,
    work: WorkProgress | None,
) -> list[dict]:
    results = []
    for future in as_completed(futures):
        try:
            results.append(future.result())
        except BrokenProcessPool:  # a worker was killed: this one is verified here
            results.append(verify_one(futures[future], suite, accept, template))
        if work is not None:
            work("verifying the bundles", len(results), len(futures))
    return results


def _in_pool(
    bundles: list[str],
    suite: str,
    accept: list[str],
    template: str | None,
    work: WorkProgress | None,
):
    install()  # MLCommons' library as the workers use it, before they fork
    pool = ProcessPoolExecutor(
        max_workers=min(available_cores(), len(bundles)),
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_worker,
        initargs=(os.getpid(),),
    )
    try:
        # every worker is forked at the first submission, before the live line's thread
        futures = {pool.submit(_worker_job, b, suite, accept, template): b for b in bundles}
        with work if work is not None else nullcontext():
            results = _collect(futures, suite, accept, template, work)
    except BaseException:
        _end(pool)
        raise
    pool.shutdown(wait=True)
    return results


def verify_all(
    bundles: list[str],
    suite: str,
    accept: list[str],
    work: WorkProgress | None = None,
    template: str | None = None,
) -> list[dict]:
    """``verify_one`` of every bundle: in a pool of processes when there are several and
    this process can fork, else here, one after the other."""
    if len(bundles) > 1 and available_cores() > 1 and can_fork():
        return _in_pool(bundles, suite, accept, template, work)
    results = []
    for bundle in bundles:
        results.append(verify_one(bundle, suite, accept, template))
        check_stopped()
    return results


# ---------------------------------------------------------------------------- the comparison


def judge(atlas: Atlas, benchmark: str, facts: dict, minutes: float | None) -> dict[str, object]:
    """A benchmark's result against the published results of the same accelerator, count
    (per node x nodes) and node count: ``{verdict, sentence, fastest, slowest, published}``."""
    model, per_node, nodes = facts["accelerator"], facts["accelerators_per_node"], facts["nodes"]
    if not model or not per_node or minutes is None or not minutes > 0:
        why = "no result" if model and per_node else "the bundle names no accelerator"
        return {"verdict": CANNOT_JUDGE, "sentence": f"cannot judge: {why}", "fastest": None,
                "slowest": None, "published": 0}  # fmt: skip
    judged = plausibility(atlas, benchmark, model, per_node * nodes, nodes, minutes)
    return {
        "verdict": judged.verdict,
        "sentence": judged.sentence,
        "fastest": judged.fastest,
        "slowest": judged.slowest,
        "published": len(judged.compared),
    }


def _benchmark(summary: dict, runs: list[dict], judged: dict, energy: dict | None) -> dict:
    times = [r["minutes"] for r in runs if r["minutes"] is not None and r["role"] != "failed"]
    interval = summary.get("interval") or {}
    return {
        "minutes": summary.get("minutes"),
        "seconds": summary.get("seconds"),
        "valid": summary.get("valid"),
        "interval_low": interval.get("low"),
        "interval_high": interval.get("high"),
        "runs_min": min(times) if times else None,
        "runs_max": max(times) if times else None,
        "runs": len(runs),
        "stated_variance": (summary.get("stated_variance") or {}).get("fraction"),
        "plausibility": judged,
        "energy_kwh": (energy or {}).get("kwh"),
        "average_power_w": (energy or {}).get("average_w"),
        "energy_source": (energy or {}).get("source"),
    }


def _entry(raw: dict, benchmarks: list[str], atlas: Atlas) -> dict:
    """One bundle's line of the comparison, from ``verify_one``'s data."""
    v, facts = raw["verification"], raw["facts"]
    name = Path(raw["bundle"]).name
    entry = {
        "bundle": raw["bundle"], "name": name, "sha256": raw["sha256"], "verified": False,
        "rank": None, "vendor": name, "org": None, "system": None, "system_name": None,
        "accelerator": "", "accelerators_per_node": None, "nodes": None, "hardware": {},
        "driver": None, "score": None, "score_interval": None, "benchmarks": {},
        "findings": [], "reservations": [], "accepted_reservations": [], "ledger_lines": [],
        "runs": {}, "same_as": [], "error": raw["error"],
    }  # fmt: skip
    if raw["error"] is not None:
        entry["findings"] = [{"class": UNREADABLE, "text": raw["error"]}]
        return entry
    entry["verified"] = bool(v["ok"]) and v["score"] is not None and facts is not None
    entry["findings"] = [f for f in v["findings"] if not f.get("accepted")]
    entry["reservations"] = v["reservations"]
    entry["accepted_reservations"] = sorted({r["name"] for r in v["reservations"] if r["accepted"]})
    entry["ledger_lines"] = v["ledger_lines"]
    entry["score"], entry["score_interval"] = v["score"], v["score_interval"]
    if facts is None:
        return entry
    entry.update({k: facts[k] for k in ("org", "system", "system_name", "accelerator",
                                        "accelerators_per_node", "nodes", "hardware", "driver",
                                        "runs")})  # fmt: skip
    entry["vendor"] = facts["submitter"]
    for bench in benchmarks:
        summary = v["benchmarks"].get(bench) or {}
        runs = facts["runs"].get(bench, [])
        judged = judge(atlas, bench, facts, summary.get("minutes"))
        energy = (facts.get("energy") or {}).get(bench)
        entry["benchmarks"][bench] = _benchmark(summary, runs, judged, energy)
    return entry


def _identity(entry: dict) -> tuple:
    return (
        str(entry["vendor"]).casefold(),
        str(entry["system"] or "").casefold(),
        entry["name"],
        entry["sha256"] or "",
        entry["bundle"],
    )


def _flag_same(entries: list[dict]) -> list[dict]:
    """Bundles of the same organisation and system: each names the others."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for entry in entries:
        if entry["org"] is not None:
            groups.setdefault((entry["org"].casefold(), entry["system"].casefold()), []).append(
                entry
            )
    flagged = []
    for _key, group in sorted(groups.items()):
        if len(group) < 2:
            continue
        for entry in group:
            entry["same_as"] = [o["bundle"] for o in group if o is not entry]
        flagged.append(
            {"vendor": group[0]["vendor"], "org": group[0]["org"],
             "system": group[0]["system"], "bundles": [e["bundle"] for e in group]}
        )  # fmt: skip
    return flagged


@dataclass
class Comparison:
    reference: dict  # Reference.as_dict: the rules every bundle was held to
    accepted: list[str]  # the reservations accepted, for every bundle
    benchmarks: list[str]  # the reference suite's, in its order
    symbols: dict[str, str]  # each benchmark's symbol in the formula (R, B)
    higher_is_better: bool
    formula: str
    ranking: list[dict] = field(default_factory=list)  # the bundles that verify, ranked
    apart: list[dict] = field(default_factory=list)  # those that do not, never ranked
    same_vendor_system: list[dict] = field(default_factory=list)
    generated: str = ""

    @property
    def ok(self) -> bool:
        """Every bundle verified."""
        return not self.apart

    def failure(self) -> InvalidError | None:
        """The error to exit with when a bundle does not verify: how many, and the first
        finding of the first set apart."""
        if self.ok:
            return None
        first = self.apart[0]
        finding = first["findings"][0] if first["findings"] else {"class": "?", "text": "?"}
        return InvalidError(
            f"not every bundle verified: {len(self.apart)} of "
            f"{len(self.ranking) + len(self.apart)} set apart, not ranked; first: "
            f"{printable(first['bundle'], 200)}: {finding['class']}: "
            f"{printable(finding['text'], 300)}"
        )

    def runs(self) -> dict[str, list[dict]]:
        """Per benchmark, every run of every bundle (ranked ones first, in rank order)."""
        out: dict[str, list[dict]] = {b: [] for b in self.benchmarks}
        for entry in self.ranking + self.apart:
            for bench in self.benchmarks:
                for run in entry["runs"].get(bench, []):
                    out[bench].append({"bundle": entry["bundle"], "vendor": entry["vendor"],
                                       "system": entry["system"], "rank": entry["rank"],
                                       "verified": entry["verified"], **run})  # fmt: skip
        return out

    def as_dict(self) -> dict:
        return {
            "compared": len(self.ranking) + len(self.apart),
            "verified": len(self.ranking),
            "ok": self.ok,
            "reference": self.reference,
            "accepted": list(self.accepted),
            "benchmarks": list(self.benchmarks),
            "symbols": dict(self.symbols),
            "formula": self.formula,
            "higher_is_better": self.higher_is_better,
            "ranking": self.ranking,
            "apart": self.apart,
            "same_vendor_system": self.same_vendor_system,
            "runs": self.runs(),
            "generated": self.generated,
            "gp2bm_version": __version__,
        }


def _bundle_paths(bundles: list[Path]) -> list[str]:
    if not bundles:
        raise InputError("no bundle given")
    seen: dict[Path, Path] = {}
    for bundle in bundles:
        if not bundle.exists():
            raise InputError(f"{bundle}: no such bundle")
        real = bundle.resolve()
        if real in seen:
            raise InputError(f"{bundle}: given twice (as {seen[real]} too)")
        seen[real] = bundle
    return [str(b) for b in bundles]


def compare_bundles(
    bundles: list[Path],
    suite_path: Path | None = None,
    accept: frozenset[str] = frozenset(),
    work: WorkProgress | None = None,
    template: Path | None = None,
) -> Comparison:
    """Verify every bundle by one reference suite (and ``template``, the RFP's own
    workbook, when given) and compare them (see the module)."""
    check_reservation_names(accept)
    check_template_file(template)
    paths = _bundle_paths([Path(b) for b in bundles])
    reference = reference_suite(suite_path, None)  # the evaluator's file: bad input is 2
    suite = reference.suite
    given = str(template) if template is not None else None
    raw = verify_all(paths, str(suite_path or DEFAULT_SUITE), sorted(accept), work, given)
    atlas = load_atlas()
    names = list(suite.benchmarks)
    entries = [_entry(r, names, atlas) for r in raw]
    for entry in entries:
        # one reference for all: the rules are the same file's (gp2bm's own when no --suite)
        entry["reference"] = reference.source
    sign = -1 if suite.higher_is_better else 1
    ranked = sorted(
        (e for e in entries if e["verified"]), key=lambda e: (sign * e["score"], _identity(e))
    )
    for rank, entry in enumerate(ranked, 1):
        entry["rank"] = rank
    apart = sorted((e for e in entries if not e["verified"]), key=_identity)
    return Comparison(
        reference=reference.as_dict(),
        accepted=sorted(accept),
        benchmarks=names,
        symbols={n: b.symbol or n for n, b in suite.benchmarks.items()},
        higher_is_better=suite.higher_is_better,
        formula=suite.formula_text(),
        ranking=ranked,
        apart=apart,
        same_vendor_system=_flag_same(ranked + apart),
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
    )

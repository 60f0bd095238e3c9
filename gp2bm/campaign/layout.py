"""The campaign folder's layout, spelt once, and ``campaign.json`` as a typed object.

Every stage that reads or writes a campaign, or an extracted hand-in bundle (which has the
same layout), asks a ``CampaignLayout`` where a file lies; no path of the layout is joined
anywhere else (``tests/test_architecture.py`` checks the rule). The layout follows MLPerf's
submission tree, so that MLCommons' own tools read a campaign as it is::

    campaign.json                                   CampaignMeta: org, system, suite, runtime
    inventory.json                                  the node, as described at the first start
    <org>/systems/<system>.json                     the MLPerf system description
    <org>/results/<system>/<bench>/result_N.txt     finished runs (appear by atomic rename)
    <org>/results/<system>/<bench>/scaling.json     the RCP normalisation factor, when given
    <org>/results/<system>/<bench>/power/result_N/node_K.txt   MLPerf's power log of node K
    <org>/results/<system>/<bench>/power/result_N/sw_K.txt     an interconnect's estimate
    <org>/benchmarks/<bench>/implementations/<impl>/   the source that ran (in a bundle)
    records/<bench>/run_N.json                      run records (RunRecord)
    records/<bench>/result_N.txt.partial            the run in progress
    records/<bench>/run_N.lock                      held (flock) by the gp2bm doing run N
    records/<bench>/attempts/                       logs and records of interrupted attempts
    records/<bench>/telemetry_N.csv                 the 1 Hz telemetry of rank 0's node, and
    records/<bench>/telemetry_N.<node>.csv          that of each other node of a run
    records/<bench>/power_N.csv                     every node power reading of run N
    records/<bench>/gpu_power_N.txt                 NVML's GPU power in MLPerf's form (informative)
    power.json                                      the campaign's node power source
    records/nodes/<node>/inventory.json             each node of a run across nodes
    records/<cache>.json                            what the pre-flight verified once
    reports/                                        the reports (`gp2bm report`, the bundle)

A bundle adds its own files beside these (``BundleLayout``): the claims, how it was made,
the README, SHA256SUMS, the manifests, the diffs of changes and the checker's log.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from gp2bm.errors import InputError
from gp2bm.files.jsonfile import read_json, write_json_atomic
from gp2bm.files.plaintext import printable

CAMPAIGN_FILE = "campaign.json"
LOCK_FILE = ".gp2bm.lock"
INVENTORY_FILE = "inventory.json"
RECORDS = "records"
REPORTS = "reports"
RFP_TEMPLATE_DIR = "template"  # under reports/: the RFP template, as it was filled
ATTEMPTS = "attempts"
NODES = "nodes"
SCALING_FILE = "scaling.json"
# The report files of a campaign's (and a bundle's) reports/ folder, by kind.
REPORT_NAMES = {"csv": "results.csv", "xlsx": "results.xlsx", "html": "report.html"}
# MLPerf's power logs: <benchmark folder>/power/result_N/node_K.txt (and sw_K.txt), as
# MLCommons' package checker and result summarizer read them.
POWER = "power"
POWER_FILE = "power.json"
# The package checker's per-folder parameters (the RCP bypass of a suite without RCP checks).
PARAMS_FILE = "package_checker_params"

# Any result_*.txt is a result log, as MLCommons' summarizer globs them; gp2bm writes
# result_N.txt, and its run records, partial logs, locks and telemetry carry the same N.
RESULT_GLOB = "result_*.txt"
RESULT_RE = re.compile(r"result_(\d+)\.txt")
RECORD_RE = re.compile(r"run_(\d+)\.json")
PARTIAL_RE = re.compile(r"result_(\d+)\.txt\.partial")
# Folders that hold evidence but no counted runs (interrupted attempts, telemetry).
EVIDENCE_DIRS = frozenset({ATTEMPTS, "telemetry", RECORDS})


# Where campaigns go when no folder is given: results/<suite name> in the working folder.
CAMPAIGNS = "results"


def default_campaign_root(suite_name: str) -> Path:
    """results/<suite name>: the campaign folder when none is given."""
    return Path(CAMPAIGNS) / suite_name


def is_result_log(name: str) -> bool:
    """A result log's name, as MLCommons' tools glob it (``result_*.txt``)."""
    return fnmatch.fnmatchcase(name, RESULT_GLOB)


def run_number(name: str) -> int | None:
    """N of a ``result_N.txt``; None for other result log names."""
    m = RESULT_RE.fullmatch(name)
    return int(m.group(1)) if m else None


def power_files(benchmark_folder: Path, result_name: str) -> tuple[list[Path], list[Path]]:
    """The node and interconnect power logs of one result log (``result_name``: its name
    without ``.txt``) of any benchmark folder, by their number."""
    folder = Path(benchmark_folder) / POWER / result_name
    if not folder.is_dir():
        return [], []

    def numbered(prefix: str) -> list[Path]:
        found = [p for p in folder.glob(f"{prefix}_*.txt") if p.stem[len(prefix) + 1 :].isdigit()]
        return sorted(found, key=lambda p: int(p.stem[len(prefix) + 1 :]))

    return numbered("node"), numbered("sw")


def has_power(benchmark_folder: Path) -> bool:
    """Whether a benchmark folder holds MLPerf power logs (a ``power`` folder)."""
    return (Path(benchmark_folder) / POWER).is_dir()


def _numbers(folder: Path, pattern: re.Pattern[str]) -> set[int]:
    if not folder.is_dir():
        return set()
    return {int(m.group(1)) for p in folder.iterdir() if (m := pattern.fullmatch(p.name))}


def _one_component(name: str) -> bool:
    """``name`` is one plain path component: a folder of the campaign, nothing else."""
    return (
        name not in (".", "..")
        and not any(ch in name for ch in "/\\")
        and not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)
    )


@dataclass(frozen=True)
class CampaignMeta:
    """``campaign.json``: who runs the campaign, which suite, with which runtime. Keys this
    gp2bm does not know (a newer one wrote them, or a bundle's own) are kept as read."""

    org: str
    system: str
    suite: str
    suite_file: str | None = None
    ruleset: str | None = None
    runtime: str | None = None
    created: str = ""
    gp2bm_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    REQUIRED: ClassVar[tuple[str, ...]] = ("org", "system", "suite")
    OPTIONAL_TEXT: ClassVar[tuple[str, ...]] = ("suite_file", "ruleset", "runtime")

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: Path) -> CampaignMeta:
        """The meta of a campaign.json document; InputError naming ``where`` when its org,
        system or suite is missing, or a known key has the wrong type."""
        for key in cls.REQUIRED:
            if not isinstance(data.get(key), str) or not data[key]:
                raise InputError(f"{where}: '{key}' is missing or not a string")
        for key in cls.OPTIONAL_TEXT:
            if data.get(key) is not None and not isinstance(data[key], str):
                raise InputError(f"{where}: '{key}' is not a string")
        for key in ("org", "system"):  # each names one folder of the campaign, never a path
            if not _one_component(data[key]):
                raise InputError(
                    f"{where}: '{key}' {printable(data[key], 64)!r} is not a folder name "
                    "(no '/', '\\', '.', '..' or control character): it would lead out of "
                    "the campaign"
                )
        known = {"org", "system", "suite", "created", "gp2bm_version", *cls.OPTIONAL_TEXT}
        return cls(
            org=data["org"],
            system=data["system"],
            suite=data["suite"],
            suite_file=data.get("suite_file"),
            ruleset=data.get("ruleset"),
            runtime=data.get("runtime"),
            created=str(data.get("created") or ""),
            gp2bm_version=str(data.get("gp2bm_version") or ""),
            extra={k: v for k, v in data.items() if k not in known},
        )

    @classmethod
    def read(cls, root: Path) -> CampaignMeta:
        """The campaign.json of the campaign (or extracted bundle) at ``root``."""
        root = Path(root)
        path = root / CAMPAIGN_FILE
        if not root.is_dir():
            raise InputError(f"{root}: no such campaign folder")
        if not path.is_file():
            raise InputError(f"{path}: file not found (not a gp2bm campaign: no {CAMPAIGN_FILE})")
        return cls.from_dict(read_json(path), path)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "org": self.org,
            "system": self.system,
            "suite": self.suite,
            "suite_file": self.suite_file,
            "ruleset": self.ruleset,
            "runtime": self.runtime,
            "created": self.created,
            "gp2bm_version": self.gp2bm_version,
        }

    def write(self, layout: CampaignLayout) -> None:
        """campaign.json of ``layout``, written atomically."""
        write_json_atomic(layout.meta_file, self.to_dict())


@dataclass(frozen=True)
class AttemptFiles:
    """Where the k-th interrupted attempt at run n keeps its log, record and telemetry."""

    log: Path
    record: Path
    telemetry: Path
    folder: Path

    def node_telemetry(self, node: str) -> Path:
        return self.telemetry.with_name(f"{self.telemetry.stem}.{node}.csv")


@dataclass(frozen=True)
class CampaignFiles:
    """The files of a campaign folder that name no organisation or system: campaign.json,
    the inventory, the records, the reports, the locks and what the pre-flight and the
    runtimes keep there. Known before campaign.json is (the pre-flight of a campaign that
    has not started)."""

    root: Path

    def relative(self, path: Path) -> str:
        """``path`` relative to the campaign folder (as a bundle names it), else as given."""
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)

    # ------------------------------------------------------------------ the top
    @property
    def meta_file(self) -> Path:
        return self.root / CAMPAIGN_FILE

    @property
    def inventory_file(self) -> Path:
        return self.root / INVENTORY_FILE

    @property
    def lock_file(self) -> Path:
        """The campaign-wide lock (flock), held by whoever plans and submits."""
        return self.root / LOCK_FILE

    @property
    def answers_dir(self) -> Path:
        """The RFP answers, given once to ``report`` (the template, the description of
        changes, the Proposed and Test lines), kept for the next report and ``package``;
        hidden: never in a bundle as such (the filled workbook is)."""
        return self.root / ".rfp-answers"

    @property
    def run_all_log(self) -> Path:
        """What run-all would have shown once its terminal or a pipe was gone (never in a
        bundle)."""
        return self.root / "run-all.log"

    @property
    def images_dir(self) -> Path:
        """Where a runtime that keeps its images per campaign keeps them (Apptainer's SIF)."""
        return self.root / "images"

    def scheduler_dir(self, scheduler: str) -> Path:
        """What a batch scheduler's placement keeps of the jobs it submitted."""
        return self.root / scheduler

    @property
    def reports_dir(self) -> Path:
        return self.root / REPORTS

    def report_file(self, kind: str) -> Path:
        """The report of ``kind`` (csv, xlsx, html) where `gp2bm report` and a bundle put it."""
        return self.reports_dir / REPORT_NAMES[kind]

    def rfp_template(self, name: str) -> Path:
        """Where a bundle keeps the RFP template its filled workbook ``name`` was filled
        from (verify fills it again from the logs and compares)."""
        return self.reports_dir / RFP_TEMPLATE_DIR / name

    # ------------------------------------------------------------------ records
    @property
    def records_root(self) -> Path:
        return self.root / RECORDS

    def records_dir(self, bench: str) -> Path:
        return self.records_root / bench

    def record_path(self, bench: str, n: int) -> Path:
        return self.records_dir(bench) / f"run_{n}.json"

    def partial_path(self, bench: str, n: int) -> Path:
        return self.records_dir(bench) / f"result_{n}.txt.partial"

    def run_lock_path(self, bench: str, n: int) -> Path:
        return self.records_dir(bench) / f"run_{n}.lock"

    def telemetry_path(self, bench: str, n: int) -> Path:
        return self.records_dir(bench) / f"telemetry_{n}.csv"

    def node_telemetry_path(self, bench: str, n: int, node: str) -> Path:
        """The telemetry of another node than rank 0's, in a run across nodes."""
        return self.records_dir(bench) / f"telemetry_{n}.{node}.csv"

    def node_telemetry_paths(self, bench: str, n: int) -> Iterator[tuple[str, Path]]:
        """(node, path) of every other node's telemetry of run n."""
        prefix = f"telemetry_{n}."
        for path in sorted(self.records_dir(bench).glob(f"{prefix}*.csv")):
            yield path.name[len(prefix) : -len(".csv")], path

    def power_samples_path(self, bench: str, n: int) -> Path:
        """Every node power reading of run n, as the sampler took them (host clock)."""
        return self.records_dir(bench) / f"power_{n}.csv"

    def gpu_power_path(self, bench: str, n: int) -> Path:
        """NVML's GPU power of run n in MLPerf's power-log form: informative, outside the
        submission tree."""
        return self.records_dir(bench) / f"gpu_power_{n}.txt"

    @property
    def power_file(self) -> Path:
        """The campaign's node power source (``spec.power.PowerSettings``)."""
        return self.root / POWER_FILE

    def cache_drop_failure_path(self, bench: str, n: int) -> Path:
        """The record of a cache drop that failed before run n (the run never started)."""
        return self.records_dir(bench) / f"cache_drop_failure_{n}.json"

    def node_step_outputs(self, bench: str, job: str) -> Path:
        """Where each node's output of the node step of a run across nodes goes."""
        return self.records_dir(bench) / f".node-step.{job}"

    @property
    def nodes_dir(self) -> Path:
        """The inventories of the nodes of runs across nodes, one folder each."""
        return self.records_root / NODES

    def node_inventory_file(self, node: str) -> Path:
        return self.nodes_dir / node / INVENTORY_FILE

    def cache_file(self, name: str) -> Path:
        """A file in which the pre-flight remembers what it verified once (data sets)."""
        return self.records_root / name

    def partials(self, bench: str) -> list[int]:
        """The N of every run in progress (or interrupted) of the benchmark."""
        return sorted(_numbers(self.records_dir(bench), PARTIAL_RE))

    def record_files(self, bench: str) -> dict[int, Path]:
        """Every run record of the benchmark, by run number."""
        folder = self.records_dir(bench)
        if not folder.is_dir():
            return {}
        found = ((RECORD_RE.fullmatch(p.name), p) for p in sorted(folder.iterdir()))
        return {int(m.group(1)): p for m, p in found if m}

    def benchmarks_recorded(self) -> list[str]:
        """The benchmarks that have a records folder (the nodes' folder is none)."""
        if not self.records_root.is_dir():
            return []
        return sorted(p.name for p in self.records_root.iterdir() if p.is_dir() and p.name != NODES)

    # ------------------------------------------------------------------ attempts
    def attempts_dir(self, bench: str) -> Path:
        return self.records_dir(bench) / ATTEMPTS

    def attempt(self, bench: str, n: int, k: int) -> AttemptFiles:
        folder = self.attempts_dir(bench)
        return AttemptFiles(
            log=folder / f"result_{n}.attempt{k}.txt",
            record=folder / f"run_{n}.attempt{k}.json",
            telemetry=folder / f"telemetry_{n}.attempt{k}.csv",
            folder=folder,
        )

    def next_attempt(self, bench: str, n: int) -> AttemptFiles:
        """The files of run n's next attempt (the first k whose log is not there)."""
        k = 1
        while self.attempt(bench, n, k).log.exists():
            k += 1
        return self.attempt(bench, n, k)

    def attempt_count(self, bench: str, n: int) -> int:
        folder = self.attempts_dir(bench)
        return len(list(folder.glob(f"result_{n}.attempt*.txt"))) if folder.is_dir() else 0

    def attempt_logs(self, bench: str) -> list[Path]:
        folder = self.attempts_dir(bench)
        return sorted(folder.glob("result_*.attempt*.txt")) if folder.is_dir() else []

    def attempt_records(self, bench: str) -> list[Path]:
        folder = self.attempts_dir(bench)
        return sorted(folder.glob("run_*.json")) if folder.is_dir() else []


@dataclass(frozen=True)
class CampaignLayout(CampaignFiles):
    """Where a campaign (or an extracted bundle) keeps each of its files: the folder's own
    (``CampaignFiles``) and the MLPerf submission tree of its organisation and system."""

    org: str
    system: str

    @classmethod
    def of(cls, root: Path, meta: CampaignMeta) -> CampaignLayout:
        return cls(Path(root), meta.org, meta.system)

    @classmethod
    def read(cls, root: Path) -> CampaignLayout:
        """The layout of the campaign at ``root``, from its campaign.json."""
        return cls.of(root, CampaignMeta.read(root))

    @property
    def org_dir(self) -> Path:
        return self.root / self.org

    @property
    def results_dir(self) -> Path:
        return self.org_dir / "results" / self.system

    @property
    def system_file(self) -> Path:
        """The MLPerf system description MLCommons' package checker reads."""
        return self.org_dir / "systems" / f"{self.system}.json"

    def benchmark_dir(self, bench: str) -> Path:
        return self.results_dir / bench

    def result_path(self, bench: str, n: int | str) -> Path:
        """Run n's result log (``n`` may be a placeholder such as "N" for a description)."""
        return self.benchmark_dir(bench) / f"result_{n}.txt"

    def scaling_file(self, bench: str) -> Path:
        return self.benchmark_dir(bench) / SCALING_FILE

    def power_node_file(self, bench: str, n: int, node: int = 0) -> Path:
        """MLPerf's power log of node ``node`` during run n."""
        return self.benchmark_dir(bench) / POWER / f"result_{n}" / f"node_{node}.txt"

    def power_switch_file(self, bench: str, n: int, switch: int = 0) -> Path:
        """MLPerf's interconnect estimate ``switch`` of run n."""
        return self.benchmark_dir(bench) / POWER / f"result_{n}" / f"sw_{switch}.txt"

    def params_file(self, bench: str) -> Path:
        return self.benchmark_dir(bench) / PARAMS_FILE

    def implementation_dir(self, bench: str, implementation: str) -> Path:
        return self.org_dir / "benchmarks" / bench / "implementations" / implementation

    def benchmark_of(self, folder: Path) -> str | None:
        """The benchmark a folder holds by its place in the layout, or None."""
        folder = Path(folder).resolve()
        return folder.name if folder.parent == self.results_dir.resolve() else None

    def finished(self, bench: str) -> set[int]:
        """The N of every result_N.txt of the benchmark."""
        return _numbers(self.benchmark_dir(bench), RESULT_RE)


# The files a hand-in bundle holds beside the campaign's own.
CLAIMS_FILE = "gp2bm-claims.json"
BUNDLE_FILE = "gp2bm-bundle.json"
SUMS_FILE = "SHA256SUMS"
README_FILE = "README.md"
MANIFESTS = "manifests"
CHANGES = "changes"
CHECKS = "checks"
TOOL = "tool"  # the gp2bm that wrote a bundle, as a wheel
# Top folders of a bundle whose files verify only hashes (in chunks).
HASHED_ONLY = (CHANGES, CHECKS, TOOL)


@dataclass(frozen=True)
class BundleFiles:
    """The files a hand-in bundle holds at its top beside the campaign's own (readable before
    its campaign.json is: they name no organisation or system)."""

    root: Path

    @property
    def claims_file(self) -> Path:
        return self.root / CLAIMS_FILE

    @property
    def bundle_file(self) -> Path:
        return self.root / BUNDLE_FILE

    @property
    def sums_file(self) -> Path:
        return self.root / SUMS_FILE

    @property
    def readme_file(self) -> Path:
        return self.root / README_FILE

    @property
    def manifests_dir(self) -> Path:
        return self.root / MANIFESTS

    @property
    def images_file(self) -> Path:
        return self.manifests_dir / "images.json"

    @property
    def changes_dir(self) -> Path:
        return self.root / CHANGES

    @property
    def description_of_changes(self) -> Path:
        return self.changes_dir / "DESCRIPTION.txt"

    @property
    def tool_dir(self) -> Path:
        return self.root / TOOL

    @property
    def checks_dir(self) -> Path:
        return self.root / CHECKS

    @property
    def checker_log(self) -> Path:
        return self.checks_dir / "package_checker.log"

    def member(self, rel: str) -> Path | None:
        """A path the bundle names (relative, inside it), or None for one that would lead
        out of it (absolute, or through ``..``)."""
        parts = Path(rel).parts
        if not parts or Path(rel).is_absolute() or ".." in parts:
            return None
        return self.root / rel


@dataclass(frozen=True)
class BundleLayout(CampaignLayout):
    """An extracted (or staged) hand-in bundle: a campaign's layout, and the bundle's own
    files (``files``)."""

    @classmethod
    def of_campaign(cls, layout: CampaignLayout, root: Path) -> BundleLayout:
        return cls(Path(root), layout.org, layout.system)

    @property
    def files(self) -> BundleFiles:
        return BundleFiles(self.root)


def hashed_only(top: Path, rel: Path) -> bool:
    """A file of a bundle that verify only hashes, in chunks: the diffs, the checker's log,
    and an organisation's implementation sources (``<org>/benchmarks/``)."""
    parts = rel.parts
    return bool(parts) and (
        parts[0] in HASHED_ONLY
        or (len(parts) > 2 and parts[1] == "benchmarks" and (top / parts[0] / "results").is_dir())
    )


def org_results(org_dir: Path) -> Path:
    """An organisation's result folders (``<org>/results``), one per system."""
    return Path(org_dir) / "results"


def org_system_file(org_dir: Path, system: str) -> Path:
    """A system's description in an organisation's tree (``<org>/systems/<system>.json``)."""
    return Path(org_dir) / "systems" / f"{system}.json"


def is_org_tree(folder: Path) -> bool:
    """A folder shaped as an organisation's submission tree (``results`` or ``systems``)."""
    return org_results(folder).is_dir() or (Path(folder) / "systems").is_dir()


def scaling_files(org_dir: Path) -> list[Path]:
    """Every scaling.json of an organisation's submission tree
    (``<org>/results/<system>/<bench>/scaling.json``), as MLCommons' package checker writes
    them."""
    results = Path(org_dir) / "results"
    return sorted(results.glob(f"*/*/{SCALING_FILE}")) if results.is_dir() else []


def is_submitted_log(rel: Path) -> bool:
    """A result log of a submission tree (``.../results/.../result_*.txt``), by its path in a
    bundle."""
    return is_result_log(rel.name) and "results" in rel.parts


class OnLayout:
    """What stands on a campaign's layout (a campaign being run, a campaign's read model):
    its folder, organisation and system, the layout's."""

    layout: CampaignLayout

    @property
    def root(self) -> Path:
        return self.layout.root

    @property
    def org(self) -> str:
        return self.layout.org

    @property
    def system(self) -> str:
        return self.layout.system

"""MLCommons' package checker on a bundle's submission tree, the system description's
fitness for a hand-in, and the per-folder RCP bypass.

The checker runs as a library (``results.mlcommons.package``), on the tree itself, and is
handed what this run already knows (``verdicts.RunVerdicts``): for a log whose bytes were
checked by the scoring, the compliance verdict and the seed records that the same library
calls gave; any other log it checks itself. Its RCP check runs, as gp2bm's own does, on
copies of the logs holding only the lines the RCP checker reads; the ``scaling.json`` it
writes lands in those copies, never in the tree.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.campaign.layout import CampaignLayout
from gp2bm.errors import InputError
from gp2bm.files.checksums import sha256_file
from gp2bm.files.jsonfile import read_json
from gp2bm.handin.format import RCP_BYPASS
from gp2bm.handin.verdicts import RunVerdicts
from gp2bm.node.systemdesc import problems
from gp2bm.results.mlcommons import package

# bundle.py imports the package checker from here before it forks its checker processes
from gp2bm.results.mlcommons.package import load_checker  # noqa: F401
from gp2bm.results.mlcommons.rcp import check_rcp
from gp2bm.spec.suite import Suite


@dataclass
class PackageCheck:
    """The verdict of MLCommons' package checker and what it logged."""

    ran: bool
    passed: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    log: str = ""
    scaling: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    def as_dict(self) -> dict:
        return {
            "ran": self.ran,
            "passed": self.passed,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "scaling_written_by_checker": dict(self.scaling),
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict) -> PackageCheck:
        """What ``as_dict`` wrote (gp2bm-bundle.json), without the log; ValueError if not."""
        try:
            return cls(
                ran=bool(data["ran"]),
                passed=bool(data["passed"]),
                errors=[str(e) for e in data["errors"]],
                warnings=[str(w) for w in data["warnings"]],
                scaling={str(k): float(v) for k, v in data["scaling_written_by_checker"].items()},
                reason=str(data["reason"]),
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a package checker verdict ({exc})") from None


def _handed(known: RunVerdicts, ruleset: str) -> package.Handed:
    """This run's verdicts, by the SHA-256 of the log the checker asks about."""
    return package.Handed(
        compliance=lambda log: known.compliance(ruleset, sha256_file(log)),
        seeds=lambda log: known.seeds(ruleset, sha256_file(log)),
    )


def check_package(
    org_dir: Path, ruleset: str, scratch: Path, known: RunVerdicts | None = None
) -> PackageCheck:
    """MLCommons' package checker (as a library) on ``org_dir``, which it does not modify.
    ``known``: the verdicts this run computed, handed to it for byte-identical logs."""
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="checker-", dir=scratch))
    handed = None if known is None else _handed(known, ruleset)
    run = package.check_package(Path(org_dir), ruleset, work, handed)
    return PackageCheck(
        ran=True,
        passed=run.passed,
        errors=list(run.errors),
        warnings=list(run.warnings),
        log=run.log,
        scaling=dict(run.scaling),
    )


def system_problems(path: Path, root: Path) -> list[tuple[str, str]]:
    """What keeps the system description from a valid hand-in: (message, short form).

    Placeholders pass MLCommons' checker (it only asks that each field exist), and a
    division other than "closed" makes its package checker skip the seed and RCP checks:
    both are refused here.
    """
    rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    fix = "fill in system.yaml beside the suite, then `gp2bm inventory --campaign DIR`"
    if not path.is_file():
        return [
            (
                f"{path}: no MLPerf system description; MLCommons' package checker needs it "
                f"({fix})",
                f"no system description ({rel})",
            )
        ]
    try:
        desc = read_json(path)
    except InputError as exc:
        return [(str(exc), f"system description unreadable ({rel})")]
    found = problems(desc)
    out = []
    if found:
        names = ", ".join(p.field for p in found)
        out.append(
            (
                f"{path}: {len(found)} field(s) still a placeholder or empty ({names}); {fix}",
                f"system description {rel}: not filled in: {names}",
            )
        )
    division = desc.get("division")
    if not any(p.field == "division" for p in found) and division != "closed":
        out.append(
            (
                f"{path}: division is {division!r}, not 'closed': the MLPerf Training closed "
                "division is what the RFP asks for (and MLCommons' checker skips the seed and "
                "RCP checks otherwise)",
                f"system description {rel}: division {division!r}, not 'closed'",
            )
        )
    return out


def rcp_bypass(suite: Suite, layout: CampaignLayout) -> list[str]:
    """Where the suite turns RCP off and a benchmark's RCP check fails, the package checker's
    per-folder bypass file; returns those benchmarks."""
    bypass: list[str] = []
    if suite.rcp:
        return bypass
    for bench in suite.benchmarks:
        folder = layout.benchmark_dir(bench)
        if folder.is_dir() and not check_rcp(folder, suite.ruleset).passed:
            layout.params_file(bench).write_text(RCP_BYPASS)
            bypass.append(bench)
    return bypass

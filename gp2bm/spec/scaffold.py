"""A vendor's working folder (``gp2bm init``): a copy of a suite, its benchmark manifests and
the config files they read on the host, under ``<folder>/manifests/``, and the system
description template beside them with what the node already said filled in.

The copies are what the vendor edits (``gp2bm pin`` writes into them, ``system.yaml`` is
filled there): gp2bm's own default suites are never written. A manifest's ``{manifest_dir}``
(the local runtime's command) names the folder the manifest came from, so that a copied
manifest still finds the workload its original pointed to.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.errors import InputError
from gp2bm.spec.manifest import suite_manifests
from gp2bm.spec.suite import MANIFEST_DIR, Suite

MANIFESTS = "manifests"
# A working folder made by `gp2bm init` names its suite here (every command run in it
# takes that suite when no --suite is given).
FOLDER_FILE = ".gp2bm.json"
FOLDER_SCHEMA = "gp2bm.folder/1"
SYSTEM_YAML = "system.yaml"
PLACEHOLDER = '"<FILL IN>"'
# A commented example line of the template's detected part: `# field: "value"  # note`.
_EXAMPLE = re.compile(r'^#\s*([a-z][a-z0-9_-]*):\s*".*$')
_DETECTED_HEADER = re.compile(r"^#\s*---\s*Detected by gp2bm.*$")


@dataclass
class Scaffold:
    """What ``gp2bm init`` wrote: the folder, the suite copy, every file written, and the
    system fields left for the vendor."""

    folder: Path
    suite: Path
    written: list[Path] = field(default_factory=list)
    to_fill: list[str] = field(default_factory=list)

    @property
    def system_yaml(self) -> Path:
        """The vendor's system fields in the working folder."""
        return self.folder / MANIFESTS / SYSTEM_YAML


def suite_path(given: Path | None) -> Path | None:
    """A suite file as given, or one of gp2bm's default suites by name (``smoke``,
    ``gp2rfp``): in a fresh folder, the name is all a vendor has."""
    if given is None or Path(given).exists() or len(Path(given).parts) != 1:
        return given
    shipped = MANIFEST_DIR / f"{given}.yaml"
    return shipped if shipped.is_file() else given


def _copy_text(source: Path, target: Path, origin: Path) -> Path:
    text = source.read_text(encoding="utf-8")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace("{manifest_dir}", str(origin)), encoding="utf-8")
    return target


def copy_suite(suite: Suite, folder: Path) -> list[Path]:
    """The suite file, each benchmark manifest and each host config file it names, copied
    under ``folder/manifests`` with their relative places kept; the suite copy first."""
    if suite.path is None:
        raise InputError(f"suite '{suite.name}' has no file to copy")
    source_dir = Path(suite.path).resolve().parent
    target_dir = folder / MANIFESTS
    written = [_copy_text(Path(suite.path), target_dir / Path(suite.path).name, source_dir)]
    for name, manifest in suite_manifests(suite).items():
        path = Path(manifest.path).resolve()
        try:
            rel = path.relative_to(source_dir)
        except ValueError:
            raise InputError(
                f"{manifest.path}: manifest of '{name}' lies outside the suite's folder "
                f"{source_dir}: cannot copy it beside the suite"
            ) from None
        written.append(_copy_text(path, target_dir / rel, path.parent))
        config = manifest.config
        if config is not None and config.location != "image":
            host_file = Path(config.file).resolve()
            rel_config = host_file.relative_to(source_dir)
            (target_dir / rel_config).parent.mkdir(parents=True, exist_ok=True)
            written.append(Path(shutil.copy2(host_file, target_dir / rel_config)))
    return written


def prefill_system_yaml(template: str, detected: dict[str, str], where: str) -> str:
    """The system.yaml template with its detected part shown: each commented example
    becomes the value this node gave (``where`` names the node), still a comment (gp2bm
    detects it again at every campaign: a value typed here would freeze it, and one that
    contradicts the node is a finding of ``gp2bm check``), or a placeholder with "not
    detected" when the node could not tell. The vendor's part stays as it is."""
    lines = []
    for line in template.splitlines():
        if _DETECTED_HEADER.match(line):
            lines.append(
                f"# --- Detected on {where}: gp2bm detects these at every campaign; uncomment "
                "a line only to override it (gp2bm check says when it contradicts the node) ---"
            )
            continue
        match = _EXAMPLE.match(line)
        if match is None:
            lines.append(line)
        elif match.group(1) in detected:
            lines.append(f"# {match.group(1)}: {json.dumps(detected[match.group(1)])}")
        else:
            lines.append(f"{match.group(1)}: {PLACEHOLDER}  # not detected on {where}")
    return "\n".join(lines) + "\n"


def placeholders(text: str) -> list[str]:
    """The fields of a system.yaml text still holding the placeholder."""
    return [
        line.split(":", 1)[0]
        for line in text.splitlines()
        if not line.startswith("#") and PLACEHOLDER in line
    ]


def remember_suite(folder: Path, suite_file: Path) -> Path:
    """``FOLDER_FILE``: the working folder's suite, which every command run in the folder
    takes when no --suite is given (``campaign.resolve.working_suite``)."""
    marker = Path(folder) / FOLDER_FILE
    rel = Path(suite_file).resolve().relative_to(Path(folder).resolve()).as_posix()
    marker.write_text(json.dumps({"schema": FOLDER_SCHEMA, "suite": rel}, indent=2) + "\n")
    return marker


def scaffold(
    suite: Suite, folder: Path, template: Path, detected: dict[str, str], where: str
) -> Scaffold:
    """Write the working folder; a folder that already holds a ``manifests/`` is refused
    (the vendor's edits are never overwritten)."""
    folder = Path(folder)
    if (folder / MANIFESTS).exists():
        raise InputError(f"{folder / MANIFESTS}: already there (init never overwrites it)")
    try:
        text = template.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{template}: cannot read the system.yaml template: {exc}") from None
    written = copy_suite(suite, folder)
    remember_suite(folder, written[0])
    system = prefill_system_yaml(text, detected, where)
    (folder / MANIFESTS / SYSTEM_YAML).write_text(system, encoding="utf-8")
    written.append(folder / MANIFESTS / SYSTEM_YAML)
    return Scaffold(folder, written[0], written, placeholders(system))

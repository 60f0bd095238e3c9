"""Which suite a campaign runs, and which campaign folder a command means: asked in one place.

* ``--suite FILE`` given: that suite (for an existing campaign it must be the suite the
  campaign was started with: same name).
* otherwise, for an existing campaign: the suite recorded in its ``campaign.json``
  (``suite_file``, found as written, relative to the campaign, to the working folder, or to
  the gp2bm checkout);
* otherwise, in a working folder made by ``gp2bm init`` (``.gp2bm.json``), its suite;
* otherwise the default suite (GP2BM).

A suite is a file, or the name of one of gp2bm's own suites (``--suite smoke``).

The campaign folder, when none is given, is ``results/<suite name>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeGuard

from gp2bm.campaign.layout import CAMPAIGN_FILE, CampaignMeta, default_campaign_root
from gp2bm.errors import InputError
from gp2bm.files.jsonfile import read_json
from gp2bm.files.plaintext import printable
from gp2bm.spec.scaffold import FOLDER_FILE, FOLDER_SCHEMA
from gp2bm.spec.suite import DEFAULT_SUITE, MANIFEST_DIR, Suite, load_suite


def working_suite() -> Path:
    """The suite of the working folder (``.gp2bm.json`` in the current folder, written by
    ``gp2bm init``), else gp2bm's default suite."""
    marker = Path.cwd() / FOLDER_FILE
    if not marker.is_file():
        return DEFAULT_SUITE
    data = read_json(marker)
    named = data.get("suite")
    if data.get("schema") != FOLDER_SCHEMA or not isinstance(named, str):
        raise InputError(f"{marker}: not a gp2bm working folder's file ({FOLDER_SCHEMA})")
    path = marker.parent / named
    if not path.is_file():
        raise InputError(f"{marker}: its suite {printable(named, 80)} is missing (pass --suite)")
    return path


def recorded_suite_file(root: Path, meta: CampaignMeta) -> Path:
    """The suite file campaign.json names, found where it can be; the default suite when it
    names none (campaigns of the first gp2bm versions)."""
    named = meta.suite_file
    if not named:
        return DEFAULT_SUITE
    path = Path(named)
    if path.is_absolute():
        candidates = [path]
    else:
        candidates = [root / path, Path.cwd() / path, MANIFEST_DIR.parent / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InputError(f"{root / CAMPAIGN_FILE}: suite_file '{named}' not found (pass --suite FILE)")


def campaign_suite(root: Path, suite_path: Path | None = None) -> tuple[CampaignMeta, Suite]:
    """An existing campaign's campaign.json and the suite it runs (``--suite`` wins over its
    suite_file, but must be the same suite)."""
    meta = CampaignMeta.read(root)
    suite = load_suite(suite_path or recorded_suite_file(Path(root), meta))
    if suite.name != meta.suite:
        raise InputError(
            f"{Path(root) / CAMPAIGN_FILE}: this campaign runs suite "
            f"'{printable(meta.suite, 64)}', not '{suite.name}' ({suite.path})"
        )
    return meta, suite


def is_campaign(root: Path | None) -> TypeGuard[Path]:
    return root is not None and (Path(root) / CAMPAIGN_FILE).is_file()


def resolve_suite(suite_path: Path | None, campaign_dir: Path | None = None) -> Suite:
    """The suite a command works on: given, else the campaign's, else the default."""
    if is_campaign(campaign_dir):
        return campaign_suite(campaign_dir, suite_path)[1]
    return load_suite(suite_path or working_suite())


def resolve_campaign_dir(campaign_dir: Path | None, suite_path: Path | None) -> Path:
    """The campaign folder a command means: given, else results/<suite name>."""
    if campaign_dir is not None:
        return Path(campaign_dir)
    return default_campaign_root(load_suite(suite_path or working_suite()).name)

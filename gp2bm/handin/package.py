"""``gp2bm package``: from what the command line gives to a written bundle.

Bad options fail here, one line naming the option or the file, before the campaign is
read; then the bundle is built (``bundle.build_bundle``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gp2bm.campaign.layout import CampaignFiles
from gp2bm.campaign.resolve import campaign_suite, resolve_campaign_dir
from gp2bm.errors import InputError
from gp2bm.handin.bundle import PackageOptions, PackageResult, build_bundle
from gp2bm.handin.sourcescan import allowed_path
from gp2bm.reports.answers import campaign_answers
from gp2bm.reports.rfp_workbook import parse_assignments, read_answers


@dataclass
class PackageRequest:
    """What ``gp2bm package`` is asked for, as its command line gives it."""

    output: Path | None = None
    allow_incomplete: bool = False
    upstream: list[str] = field(default_factory=list)  # BENCH=FOLDER
    template: Path | None = None
    changes: Path | None = None
    proposed: list[str] = field(default_factory=list)  # KEY=VALUE
    test: list[str] = field(default_factory=list)  # KEY=VALUE
    allow_file: list[str] = field(default_factory=list)  # source files shipped by choice


def package_options(request: PackageRequest, root: Path | None = None) -> PackageOptions:
    """The request's options, each checked: a file that is not there, a KEY=VALUE that is
    not one, workbook answers without the workbook. ``root``: the campaign, whose kept RFP
    answers (``reports.answers``) fill the workbook where the request gives none."""
    upstreams = {k: Path(v) for k, v in parse_assignments(request.upstream, "--upstream").items()}
    given = read_answers(request.template, request.changes, request.proposed, request.test)
    if root is None:
        if request.template is None and (request.proposed or request.test):
            raise InputError("--proposed and --test fill the RFP workbook: give --template")
        answers = given
    else:
        answers = campaign_answers(CampaignFiles(root), given)
    return PackageOptions(
        allow_incomplete=request.allow_incomplete,
        template=answers.template,
        changes=answers.changes,
        proposed=answers.proposed,
        test=answers.test,
        upstreams=upstreams,
        allow_files=[allowed_path(path) for path in request.allow_file],
    )


def default_output(root: Path, suite_path: Path | None) -> Path:
    """<suite>-<org>-<system>.tar.gz in the working folder."""
    meta, suite = campaign_suite(root, suite_path)
    return Path(f"{suite.name}-{meta.org}-{meta.system}.tar.gz")


def package_campaign(
    campaign: Path | None, suite_path: Path | None, request: PackageRequest
) -> PackageResult:
    """Write the hand-in bundle of a campaign (default: results/<suite name>)."""
    root = resolve_campaign_dir(campaign, suite_path)
    options = package_options(request, root)
    output = request.output or default_output(root, suite_path)
    return build_bundle(root, output, suite_path, options)

"""gp2bm init: a vendor's working folder (wiring: the suite copied by ``gp2bm.spec.scaffold``,
the node described by ``gp2bm.node.description``)."""

from __future__ import annotations

import shlex
from pathlib import Path

from gp2bm.campaign.resolve import resolve_suite
from gp2bm.cli.app import app, err, out
from gp2bm.cli.options import FolderArg, InitSuiteOpt
from gp2bm.node.description import describe_node
from gp2bm.node.fingerprint import node_name
from gp2bm.node.systemdesc import SYSTEM_YAML, default_system_yaml
from gp2bm.spec.manifest import suite_manifests
from gp2bm.spec.scaffold import scaffold, suite_path
from gp2bm.spec.suite import MANIFEST_DIR


@app.command("init")
def init(folder: FolderArg = Path("."), suite: InitSuiteOpt = None):
    """Start a working folder: the suite and its benchmark manifests copied into
    FOLDER/manifests/ (pin and the system description are edited there, never in gp2bm's
    own suites), and manifests/system.yaml with what this node tells gp2bm already filled
    in. The fields only you know stay "<FILL IN>"; `gp2bm inventory --check` names them.
    """
    the_suite = resolve_suite(suite_path(suite))
    template = default_system_yaml(the_suite.path) or MANIFEST_DIR / SYSTEM_YAML
    record = describe_node(the_suite, suite_manifests(the_suite), None)
    detected = {
        name: value
        for name, value in record.description.fields.items()
        if record.description.sources.get(name) == "detected"
    }
    done = scaffold(the_suite, folder, template, detected, node_name())
    for path in done.written:
        err.print(f"wrote {path}", highlight=False, markup=False)
    system_yaml = done.system_yaml
    out.print(
        f"{len(detected)} system field(s) detected on this node, {len(done.to_fill)} to fill "
        f"in {system_yaml}: {', '.join(done.to_fill) or 'none'}",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    out.print(
        f"next: fill them, then gp2bm inventory --suite {shlex.quote(str(done.suite))} --check",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )

"""The mlperf-logging release gp2bm's speed-ups were written against, and the one installed.

gp2bm's speed-ups replace or wrap functions of the library whose code they know (the parsers'
line stripping, the compliance checker's YAML loading, the RCP checker's scipy import, the
package checker's compliance, seed and RCP calls): they hold for the pinned release only.
``PINNED`` is the version pyproject.toml pins (``mlperf-logging==4.1.68``;
tests/test_mlcommons.py keeps the two equal).
"""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "mlperf-logging"
PINNED = "4.1.68"


def installed_version() -> str | None:
    """The version of mlperf-logging this interpreter has, as its metadata says (None if it
    has no metadata)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def mismatch_line(found: str | None) -> str:
    """The one line said when the installed release is not the pinned one."""
    return (
        f"gp2bm: warning: mlperf-logging {found or '(unknown version)'} is installed, gp2bm "
        f"is pinned to {PINNED}: MLCommons' checkers run as the library is, without gp2bm's "
        "speed-ups (slower)"
    )

"""The vendor's absolute paths, named by role in what a bundle carries: the campaign
folder (``<campaign>``), the suite's and manifests' folders (``<suite>``), gp2bm's own
installation (``<gp2bm>``), its Python environment (``<python>``) and the home folder
(``~``). A bundle then tells where a file was by what it is, never by the machine's
folder names (a user name, a project's path)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import gp2bm


def _forms(path: Path | str) -> list[str]:
    """A folder as it was given and as it resolves (a link in between: both)."""
    given = Path(path).absolute()
    return list(dict.fromkeys([str(given), str(given.resolve())]))


@dataclass(frozen=True)
class VendorPaths:
    """Absolute folders and the role each is named by, longest first."""

    roles: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, campaign: Path, suite: Path | None, manifests: Iterable[Path]) -> VendorPaths:
        named: list[tuple[Path | str, str]] = [(campaign, "<campaign>")]
        named += [(Path(p).parent, "<suite>") for p in [suite, *manifests] if p is not None]
        named += [(Path(gp2bm.__file__).parent.parent, "<gp2bm>")]
        named += [(sys.prefix, "<python>"), (sys.base_prefix, "<python>")]
        home = str(Path("~").expanduser())
        named += [(home, "~")] if home.startswith("/") and home != "/" else []
        roles = {form: role for path, role in named for form in _forms(path) if form != "/"}
        return cls(tuple(sorted(roles.items(), key=lambda r: -len(r[0]))))

    def text(self, value: str) -> str:
        """``value`` with each known folder (whole path components only) named by role."""
        for prefix, role in self.roles:
            if prefix in value:
                value = re.sub(re.escape(prefix) + r"(?=/|$|[^\w.\-])", role, value)
        return value

    def document(self, value: object) -> object:
        """A JSON or YAML document with every string (keys too) put through ``text``."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.document(k): self.document(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.document(v) for v in value]
        return value

"""A content-addressed cache of MLCommons checker verdicts, so that a log that has not
changed is not checked again by ``status``, ``report`` or ``package``.

The key is the SHA-256 of what was checked (one log, or a folder's set of logs), the checker,
the ruleset and the mlperf-logging version: a changed byte, another ruleset or another
version of MLCommons' rules is a miss. ``verify`` never uses it (it trusts nothing), and
``score_paths`` uses it only when given one. The cache lives outside the campaign: scoring
never writes into the evidence.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Protocol

from gp2bm.errors import InputError
from gp2bm.files.jsonfile import read_json_or_empty, write_json_atomic

SCHEMA = "gp2bm.verdict/1"
MLPERF_LOGGING_VERSION = version("mlperf-logging")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/gp2bm/verdicts`` (``~/.cache/gp2bm/verdicts``); never under ``/``
    nor a relative folder: with neither an absolute ``$XDG_CACHE_HOME`` nor a home (``$HOME``
    empty, ``/`` or relative), one line says what to set."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if Path(xdg).is_absolute():  # the XDG spec: a relative value is ignored
        return Path(xdg) / "gp2bm" / "verdicts"
    home = os.environ.get("HOME")
    home = str(Path.home()) if home is None else home  # unset: the user database's
    if not Path(home).is_absolute() or Path(home) == Path("/"):
        raise InputError(
            f"the verdict cache has no folder: HOME is {home!r} and XDG_CACHE_HOME "
            f"{xdg!r}; set XDG_CACHE_HOME (or HOME) to an absolute folder of yours"
        )
    return Path(home) / ".cache" / "gp2bm" / "verdicts"


def folder_digest(named_digests: list[tuple[str, str]]) -> str:
    """One digest for a folder's logs: their names and contents, in name order."""
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(named_digests))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VerdictStore(Protocol):
    """Where scoring keeps the verdicts it computed: a ``VerdictCache``, or the verdicts of
    one ``package`` or ``verify`` run (``handin.verdicts.RunVerdicts``)."""

    def load(self, checker: str, ruleset: str, digest: str) -> dict | None: ...

    def store(self, checker: str, ruleset: str, digest: str, value: dict) -> None: ...


@dataclass(frozen=True)
class VerdictCache:
    root: Path

    def _ident(self, checker: str, ruleset: str, digest: str) -> dict:
        return {
            "schema": SCHEMA,
            "checker": checker,
            "ruleset": ruleset,
            "mlperf_logging": MLPERF_LOGGING_VERSION,
            "digest": digest,
        }

    def _path(self, ident: dict) -> Path:
        text = "\0".join(str(ident[k]) for k in sorted(ident))
        key = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return Path(self.root) / key[:2] / f"{key}.json"

    def load(self, checker: str, ruleset: str, digest: str) -> dict | None:
        """The verdict stored for this content, checker, ruleset and version, or None."""
        ident = self._ident(checker, ruleset, digest)
        entry = read_json_or_empty(self._path(ident))
        if any(entry.get(k) != v for k, v in ident.items()):
            return None  # absent, half-written or not this verdict: checked again
        value = entry.get("value")
        return value if isinstance(value, dict) else None

    def store(self, checker: str, ruleset: str, digest: str, value: dict) -> None:
        ident = self._ident(checker, ruleset, digest)
        try:
            write_json_atomic(self._path(ident), {**ident, "value": value})
        except OSError:
            pass  # a cache that cannot be written only costs a later re-check

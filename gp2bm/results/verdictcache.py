"""A content-addressed cache of MLCommons checker verdicts, so that a log that has not
changed is not checked again by ``status``, ``report`` or ``package``.

The key is the SHA-256 of what was checked (one log, or a folder's set of logs), the checker,
the ruleset, the mlperf-logging version and gp2bm's: a changed byte, another ruleset or another
version of MLCommons' rules or of gp2bm is a miss. Each entry is sealed (HMAC-SHA-256 of
what it says, with a key of 32 random bytes the cache keeps in ``key``, readable by its
owner only): an entry hand-edited, copied from another machine or user, or planted in the
folder by anything that does not hold the key is a miss, and the log is checked again. The
seal stops what does not run as the cache's owner; what does can read the key, as it can
edit the campaign. ``verify`` never uses it (it trusts nothing), and ``score_paths`` uses
it only when given one. The cache lives outside the campaign: scoring never writes into
the evidence.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Protocol

from gp2bm import __version__
from gp2bm.errors import InputError
from gp2bm.files.jsonfile import read_json_or_empty, write_json_atomic

SCHEMA = "gp2bm.verdict/2"
KEY_FILE = "key"
KEY_BYTES = 32
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


def _owned_key(path: Path) -> bytes | None:
    """The key at ``path`` when it is the owner's alone (a regular file of this user, no
    access for others), else None."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
        key = fh.read(KEY_BYTES + 1)
    return key if len(key) == KEY_BYTES else None


def _make_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_bytes(KEY_BYTES))


def _seal(key: bytes, entry: dict) -> str:
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class VerdictCache:
    root: Path

    def _key(self) -> bytes | None:
        """The cache's key, made on first use; None (no entry read nor written: every log
        checked again) when it cannot be made or is not the owner's alone."""
        path = Path(self.root) / KEY_FILE
        for _ in range(2):
            try:
                return _owned_key(path)
            except FileNotFoundError:
                try:
                    _make_key(path)
                except FileExistsError:
                    continue  # made meanwhile by another gp2bm: read it
                except OSError:
                    return None
            except OSError:
                return None
        return None

    def _ident(self, checker: str, ruleset: str, digest: str) -> dict:
        return {
            "schema": SCHEMA,
            "checker": checker,
            "ruleset": ruleset,
            "mlperf_logging": MLPERF_LOGGING_VERSION,
            "gp2bm": __version__,
            "digest": digest,
        }

    def _path(self, ident: dict) -> Path:
        text = "\0".join(str(ident[k]) for k in sorted(ident))
        key = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return Path(self.root) / key[:2] / f"{key}.json"

    def load(self, checker: str, ruleset: str, digest: str) -> dict | None:
        """The verdict stored for this content, checker, ruleset and versions, sealed with
        the cache's key, or None."""
        key = self._key()
        if key is None:
            return None
        ident = self._ident(checker, ruleset, digest)
        entry = read_json_or_empty(self._path(ident))
        if any(entry.get(k) != v for k, v in ident.items()):
            return None  # absent, half-written or not this verdict: checked again
        value = entry.get("value")
        seal = entry.get("seal")
        if not isinstance(value, dict) or not isinstance(seal, str):
            return None
        if not hmac.compare_digest(seal, _seal(key, {**ident, "value": value})):
            return None  # not written by this cache's gp2bm: checked again
        return value

    def store(self, checker: str, ruleset: str, digest: str, value: dict) -> None:
        key = self._key()
        if key is None:
            return  # a cache that cannot be used only costs a later re-check
        ident = self._ident(checker, ruleset, digest)
        entry = {**ident, "value": value}
        try:
            write_json_atomic(self._path(ident), {**entry, "seal": _seal(key, entry)})
        except OSError:
            pass  # a cache that cannot be written only costs a later re-check

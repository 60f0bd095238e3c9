"""What may leave the node in an implementation's source: every file is looked at before it
is copied into the bundle.

Refused, with one line naming the file (relative to the implementation folder) and why,
exit 2, before anything is written under the bundle's name:

* a file that is a secret by its name or holds a credential pattern in its text
  (``files.redact.secret_file``, ``token_file``, ``find_credential``: ``.env``, ``*.pem``,
  SSH keys, ``.netrc``; a private key header, an AWS key id, a GitHub or Slack token, a
  secret's name assigned a literal value), or one of the manifest's own secret values (the
  values the run-log scan looks for, ``handin.secrets``). ``--allow-file PATH`` ships one
  deliberately: the bundle's notes (its README and gp2bm-bundle.json) then say so;
* what ``gp2bm verify`` would refuse (``limits``): a name that is not valid UTF-8 or holds
  a control character, two names that differ by case only, a file over the size of a
  bundle's member, a source over the bundle's total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from gp2bm.errors import InputError, RefusedSource
from gp2bm.files.plaintext import printable
from gp2bm.files.redact import find_credential, find_secrets, secret_file, token_file
from gp2bm.handin.limits import case_twin, name_problem, size_problem


def allowed_path(text: str) -> str:
    """An ``--allow-file`` value as the relative POSIX path it names; InputError for one
    that is absolute, empty or goes up."""
    path = PurePosixPath(text.replace("\\", "/"))
    if not text.strip() or path.is_absolute() or ".." in path.parts or not path.parts:
        raise InputError(
            f"--allow-file {printable(text, 200)}: give a path relative to the "
            "implementation folder (e.g. --allow-file config/.env)"
        )
    return path.as_posix()


@dataclass
class SourceScan:
    """The rules one benchmark's source is copied by, and what was shipped by choice."""

    what: str  # "bert source"
    secrets: dict[str, str] = field(default_factory=dict)  # the manifest's, by name
    allowed: frozenset[str] = frozenset()
    shipped: list[str] = field(default_factory=list)  # notes: secrets shipped by choice
    seen: set[str] = field(default_factory=set)  # every file copied
    folded: dict[str, str] = field(default_factory=dict)
    total: int = 0

    def refuse(self, rel: str, why: str, fix: str) -> RefusedSource:
        return RefusedSource(f"{self.what}: {printable(rel, 300)}: {why}; {fix}")

    def check_name(self, rel: str, name: str) -> None:
        """A file or folder name verify would refuse: one line naming it."""
        twin = case_twin(rel, self.folded)
        why = name_problem(name) or (twin and f"differs from {printable(twin, 300)} by case only")
        if why:
            raise self.refuse(rel, why, "rename it: gp2bm verify refuses such a bundle")

    def check_file(self, rel: str, path: Path) -> None:
        """A file about to be copied: its name, size and content; refused in one line."""
        self.check_name(rel, path.name)
        size = path.stat().st_size
        self.total += size
        why = size_problem(size, self.total)
        if why:
            raise self.refuse(
                rel, why, "leave it out of the implementation folder: gp2bm verify refuses it"
            )
        self.seen.add(rel)
        why = self.secret(rel, path)
        if why is None:
            return
        if rel not in self.allowed:
            raise self.refuse(
                rel,
                why,
                "a bundle never carries a secret: remove it, or ship it deliberately with "
                f"--allow-file {printable(rel, 300)}",
            )
        self.shipped.append(
            f"{self.what}: {rel}: {why}: shipped by the vendor's choice (--allow-file)"
        )

    def secret(self, rel: str, path: Path) -> str | None:
        """Why the file holds a secret, never quoting it, else None."""
        found = secret_file(rel) or token_file(rel, path) or find_credential(path)
        if found is None and self.secrets:
            hits = find_secrets(path, self.secrets)
            found = f"{hits[0]} (a secret of the manifest)" if hits else None
        return found

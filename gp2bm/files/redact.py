"""Keeping secrets out of what gp2bm writes down (run records, bundles, reports, dry runs),
and finding the ones a workload printed anyway.

The container still gets the real values; only the evidence is redacted. This module is the
one place that decides what a secret is:

* a variable whose name says so (TOKEN, KEY, SECRET, PASSWORD, PASSWD, PASS or PWD as a word
  of the name, credentials, registry auth...): its whole value;
* a password inside a URL (``scheme://user:PASSWORD@host``), in any value or argument;
* the value of a command-line option whose name says so (``--api-key=X``, ``--password X``,
  ``--token=X``); an option naming a file, folder or path of one (``--token-file``) is not.

A workload may print a secret it was given; ``find_secrets`` says where (gp2bm warns, and
never rewrites a log: the log is the evidence).

A file may be a secret itself: by its name (``secret_file``: ``.env``, ``*.pem``, an SSH
key, ``.netrc``; ``token_file``: an ``.npmrc`` or ``.pypirc`` holding a token) or by a
credential in its text (``find_credential``: a private key header, an AWS key id, GitHub,
GitLab, Slack, Google, Hugging Face, npm, PyPI and Stripe tokens, a secret's name assigned
a literal value), said by what it is and its line, never by its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gp2bm.files.regular import open_regular

REDACTED = "<redacted>"
SECRET_NAME = re.compile(
    r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION"
    r"|DOCKER_CONFIG|REGISTRY_USER"
    # PASS and PWD only as a word of the name (MY_PASS, DB_PWD; not BYPASS, PASSTHROUGH)
    r"|(?<![A-Z0-9])(?:PASS|PWD)(?![A-Z0-9])",
    re.IGNORECASE,
)
# The shell's working folders, not passwords.
NOT_SECRET = {"PWD", "OLDPWD"}
# An option naming where a secret lives is not the secret (--token-file, --key-path).
REFERENCE_WORDS = {"FILE", "PATH", "DIR", "FOLDER", "FD", "ENV", "NAME"}
# Options whose next argument is NAME=VALUE in the command lines gp2bm renders.
ENV_OPTIONS = {"--env", "-e", "--container-env", "--setenv"}
# env(1)'s own options that take an argument.
ENV_COMMAND_OPTIONS = {"-C", "--chdir", "-u", "--unset"}
# scheme://user:password@host: the password (RFC 3986 userinfo holds no '/', '?', '#', '@')
URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@]*:)[^\s/?#@]+(?=@)")


def is_secret(name: str) -> bool:
    return name.upper() not in NOT_SECRET and bool(SECRET_NAME.search(name))


def is_secret_option(arg: str) -> bool:
    """Whether a command-line option (``--api-key``) takes a secret as its value."""
    if not arg.startswith("--") or len(arg) < 3:
        return False
    name = arg[2:].split("=", 1)[0]
    words = re.split(r"[-_.]", name.upper())
    return is_secret(name) and words[-1] not in REFERENCE_WORDS


def redact_value(text: str) -> str:
    """``text`` with the password of every URL in it redacted."""
    return URL_PASSWORD.sub(lambda m: m["head"] + REDACTED, text)


def redact_env(env: dict[str, str]) -> dict[str, str]:
    return {
        k: (REDACTED if is_secret(k) else redact_value(v) if isinstance(v, str) else v)
        for k, v in env.items()
    }


def _redact_assignment(text: str) -> str:
    name, sep, value = text.partition("=")
    if not sep:
        return text
    return f"{name}={REDACTED}" if is_secret(name) else f"{name}={redact_value(value)}"


def _redact_option(arg: str) -> str:
    """``--api-key=X`` -> ``--api-key=<redacted>``; other arguments: URL passwords only."""
    option, eq, _ = arg.partition("=")
    if eq and is_secret_option(option):
        return f"{option}={REDACTED}"
    return redact_value(arg)


def redact_argv(argv: list[str]) -> list[str]:
    """Redact NAME=VALUE arguments naming a secret (after --env/-e, as --env=NAME=VALUE, and
    the leading assignments of an ``env NAME=VALUE ... command`` line), the values of secret
    options (``--password X``, ``--token=X``) and URL passwords; same length as ``argv``."""
    out = []
    state = None  # what the previous argument makes of this one
    in_env_prefix = bool(argv) and argv[0] == "env"
    for i, arg in enumerate(argv):
        if state == "option-value" and not arg.startswith("-"):
            out.append(REDACTED)
        elif state == "env-option-value":
            out.append(redact_value(arg))
        elif state == "assignment":
            out.append(_redact_assignment(arg))
        elif in_env_prefix and arg in ENV_COMMAND_OPTIONS:
            out.append(arg)
            state = "env-option-value"
            continue
        else:
            out.append(_redact_word(arg, in_env_prefix and i > 0))
            if in_env_prefix and i > 0 and "=" not in arg and not arg.startswith("-"):
                in_env_prefix = False
            state = _state_after(arg)
            continue
        state = None
    return out


def _redact_word(arg: str, in_env_prefix: bool) -> str:
    option, eq, rest = arg.partition("=")
    if option in ENV_OPTIONS and eq:
        return f"{option}={_redact_assignment(rest)}"
    if in_env_prefix and "=" in arg and not arg.startswith("-"):
        return _redact_assignment(arg)
    return _redact_option(arg)


def _state_after(arg: str) -> str | None:
    if arg in ENV_OPTIONS:
        return "assignment"
    if "=" not in arg and is_secret_option(arg):
        return "option-value"
    return None


def redact_document(doc: object, where: str = "") -> tuple[object, list[str]]:
    """A copy of a YAML/JSON document with its secrets redacted: the scalar value of every
    key naming a secret, every list of strings as a command line (``redact_argv``), URL
    passwords in every string. Returns the copy and where it redacted (``environment.X``)."""
    if isinstance(doc, dict):
        out: dict[object, object] = {}
        found: list[str] = []
        for key, value in doc.items():
            path = f"{where}.{key}" if where else str(key)
            if is_secret(str(key)) and not isinstance(value, (dict, list)) and value is not None:
                out[key] = REDACTED
                found.append(path)
            else:
                out[key], more = redact_document(value, path)
                found += more
        return out, found
    if isinstance(doc, list):
        items: Sequence[object]
        if doc and all(isinstance(x, str) for x in doc):
            items = redact_argv(doc)
        else:
            items = [redact_document(x, f"{where}[{i}]")[0] for i, x in enumerate(doc)]
        return items, [
            f"{where}[{i}]" for i, (a, b) in enumerate(zip(doc, items, strict=True)) if a != b
        ]
    if isinstance(doc, str):
        text = redact_value(doc)
        return text, [where] if text != doc else []
    return doc, []


# ---------------------------------------------------------------------------- in logs

# Values this short (or these words) are everywhere in a log: searching for them would
# only cry wolf. A real secret is longer.
MIN_SECRET_CHARS = 4
COMMON_WORDS = {"true", "false", "none", "null", "yes", "no", REDACTED}
SCAN_CHUNK = 1 << 20


@dataclass(frozen=True)
class SecretFound:
    """A secret value seen in a text: which one (the variable's name, never the value), the
    first line it is on, how many times it appears."""

    name: str
    line: int
    count: int

    def __str__(self) -> str:
        times = "" if self.count == 1 else f" ({self.count} times)"
        return f"line {self.line}: the value of {self.name}{times}"


def secret_values(env: Mapping[str, str]) -> dict[str, str]:
    """The values the redaction hides in ``env``, by a name for each: secret variables'
    values and the passwords of URLs in any value (``DB_URL (URL password)``)."""
    found = {}
    for name, value in env.items():
        if not isinstance(value, str):
            continue
        if is_secret(name):
            found[name] = value
        for i, m in enumerate(URL_PASSWORD.finditer(value)):
            found[f"{name} (URL password{f' {i + 1}' if i else ''})"] = m.group(0)[len(m["head"]) :]
    return found


def _searchable(values: Mapping[str, str] | Iterable[str]) -> dict[bytes, str]:
    named = (
        values.items()
        if isinstance(values, Mapping)
        else ((f"#{i}", v) for i, v in enumerate(values))
    )
    out: dict[bytes, str] = {}
    for name, value in named:
        if len(value) >= MIN_SECRET_CHARS and value.lower() not in COMMON_WORDS:
            out.setdefault(value.encode("utf-8", "surrogateescape"), name)
    return out


def find_secrets(
    text_or_path: str | bytes | Path, secret_values: Mapping[str, str] | Iterable[str]
) -> list[SecretFound]:
    """Where the given secret values appear in a text or a file (read in chunks: a log of
    any size), by name, first line and count; ``secret_values`` maps a name to each value
    (``secret_values(env)``) or is a plain list (named ``#0``, ``#1``...). Values shorter than
    MIN_SECRET_CHARS and words like "true" are not searched for."""
    wanted = _searchable(secret_values)
    if not wanted:
        return []
    pattern = re.compile(b"|".join(re.escape(v) for v in sorted(wanted, key=len, reverse=True)))
    first: dict[str, int] = {}
    counts: dict[str, int] = {}
    for chunk, line, seen in _chunks(text_or_path, max(len(v) for v in wanted) - 1):
        for m in pattern.finditer(chunk):
            if m.end() <= seen:  # wholly in the previous chunk: counted there
                continue
            name = wanted[m.group(0)]
            first.setdefault(name, line + chunk.count(b"\n", 0, m.start()))
            counts[name] = counts.get(name, 0) + 1
    return sorted((SecretFound(n, first[n], counts[n]) for n in first), key=lambda f: f.line)


def _chunks(source: str | bytes | Path, overlap: int):
    """(chunk, line number of its first byte, bytes already seen at its start): each chunk
    starts with the last ``overlap`` bytes of the one before, so that a match across two
    blocks is found, in the later chunk."""
    if isinstance(source, str):
        yield source.encode("utf-8", "surrogateescape"), 1, 0
        return
    if isinstance(source, bytes):
        yield source, 1, 0
        return
    with open_regular(source, "a log") as fh:
        tail, line = b"", 1
        while block := fh.read(SCAN_CHUNK):
            chunk = tail + block
            yield chunk, line, len(tail)
            cut = max(len(chunk) - overlap, 0)
            line += chunk.count(b"\n", 0, cut)
            tail = chunk[cut:]


# ---------------------------------------------------------------------------- in files

# A file that is a secret by its name (matched on the name, lower case; ``.pub`` keys and
# ``known_hosts`` are public): what it is, as a refusal says it.
SECRET_FILE_NAMES = (
    (re.compile(r"\.env(\..+)?"), "an environment file (.env)"),
    (re.compile(r".+\.pem"), "a private key file (*.pem)"),
    (re.compile(r".+\.(key|ppk)"), "a private key file (*.key)"),
    (re.compile(r".+\.(p12|pfx|jks|keystore)"), "a key store (*.p12, *.pfx, *.jks)"),
    (re.compile(r"id_(rsa|dsa|ecdsa|ed25519|xmss)(_sk)?(?!.*\.pub$).*"), "an SSH private key"),
    (re.compile(r"id_[^.]+"), "an SSH private key (id_*)"),
    (re.compile(r"[._]netrc"), "a login file (.netrc)"),
    (re.compile(r"\.pgpass"), "a PostgreSQL password file (.pgpass)"),
    (re.compile(r"\.git-credentials"), "git's credential store (.git-credentials)"),
    (re.compile(r"\.?credentials(\.(json|ya?ml|ini|toml|csv|xml|txt))?"), "a credentials file"),
    (re.compile(r"\.htpasswd"), "a password file (.htpasswd)"),
)
# Files that are secrets only when they hold a token: their name and what gives it away.
TOKEN_FILES = {
    ".npmrc": re.compile(rb"(?im)^[^#;\n]*(_authtoken|_auth|_password)\s*=\s*\S"),
    ".pypirc": re.compile(rb"(?im)^\s*password\s*[=:]\s*\S"),
    ".dockercfg": re.compile(rb'"auths?"\s*:'),
}
# Folders whose files are credentials (an SSH folder's public files aside).
SECRET_FOLDERS = {".ssh": "a file of an SSH folder", ".aws": "a file of an AWS folder"}
PUBLIC_FILES = {"known_hosts", "authorized_keys", "config"}
# A literal value: 6 characters or more, no placeholder (``<...>``, ``${...}``, ``%s``), no
# colour, prefix or format (``#ccc``, ``:::MLL``, ``!BII``)
_LITERAL = rb"(?![#:!.])[^\s\"'<>\[\]{}()$%`\\,;]{6,}"
_SECRET_WORD = rb"(?:password|passwd|passphrase|secret|token|api[_-]?key|access[_-]?key)"
# Credential patterns in a text: what each is, as a refusal says it.
CREDENTIAL_PATTERNS = (
    (rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----", "a private key"),
    (rb"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])", "an AWS access key"),
    (rb"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36,}", "a GitHub token"),
    (rb"(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,}", "a GitHub token"),
    (rb"(?<![A-Za-z0-9])glpat-[A-Za-z0-9_-]{20,}", "a GitLab token"),
    (rb"(?<![A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}", "a Slack token"),
    (rb"(?<![A-Za-z0-9_])AIza[0-9A-Za-z_-]{35}", "a Google API key"),
    (rb"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}", "a Hugging Face token"),
    (rb"(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}", "an npm token"),
    (rb"(?<![A-Za-z0-9_])pypi-AgE[A-Za-z0-9_-]{50,}", "a PyPI token"),
    (rb"(?<![A-Za-z0-9_])(?:sk|rk)_live_[A-Za-z0-9]{20,}", "a Stripe key"),
    # NAME = "literal" anywhere (code, JSON, YAML), whose name ends in a secret's word; a
    # word in capitals (``token = "MISSING"``) is a constant's name, not a secret
    (
        rb"(?i)(?<![A-Za-z0-9_])[\w.-]*" + _SECRET_WORD + rb"(?![A-Za-z0-9])[\"']?\s*[:=]\s*"
        rb"(?P<q>[\"'])(?![A-Z_]+[\"'])" + _LITERAL + rb"(?P=q)",  # not a constant's name
        "a secret assigned a literal value",
    ),
)
# NAME=value as a whole line (an environment or INI file, a shell script): in a program's
# source the same line assigns a variable (``token = tokenizer_name``), so not searched there
CONFIG_ASSIGNMENT = (
    rb"(?im)^[ \t]*(?:export[ \t]+)?[\w.-]*" + _SECRET_WORD + rb"(?![A-Za-z0-9])[ \t]*[=:]"
    rb"[ \t]*" + _LITERAL + rb"[ \t]*\r?$"
)
CODE_SUFFIXES = frozenset(
    ".py .pyx .pxd .pyi .c .h .cc .cpp .cxx .hpp .cu .cuh .java .js .ts .go .rs .jl .scala"
    " .kt .swift .lua .m".split()
)
_CREDENTIALS = [(re.compile(p), what) for p, what in CREDENTIAL_PATTERNS]
_CONFIG_CREDENTIALS = [*_CREDENTIALS, (re.compile(CONFIG_ASSIGNMENT), _CREDENTIALS[-1][1])]
# A credential is never longer than this (a match across two chunks is found in the later)
CREDENTIAL_OVERLAP = 4096
NEWLINE = b"\n"


def secret_file(rel: str) -> str | None:
    """What the file at the relative POSIX path ``rel`` is when its name says it holds a
    secret (``"a private key file (*.pem)"``), else None."""
    parts = rel.lower().split("/")
    name = parts[-1]
    for pattern, what in SECRET_FILE_NAMES:
        if pattern.fullmatch(name):
            return what
    for folder in parts[:-1]:
        if folder in SECRET_FOLDERS and name not in PUBLIC_FILES and not name.endswith(".pub"):
            return SECRET_FOLDERS[folder]
    return None


def token_file(rel: str, path: Path) -> str | None:
    """What a file that holds a secret only when it says so (``.npmrc``, ``.pypirc``) is,
    when it does."""
    name = rel.lower().rsplit("/", 1)[-1]
    pattern = TOKEN_FILES.get(name)
    if pattern is None:
        return None
    for chunk, _, _ in _chunks(path, CREDENTIAL_OVERLAP):
        if pattern.search(chunk):
            return f"a {name} that holds a token"
    return None


def find_credential(path: Path) -> str | None:
    """The first credential pattern in a file (read in chunks), as ``"an AWS access key on
    line 3"``, else None. The text is never quoted."""
    code = Path(path).suffix.lower() in CODE_SUFFIXES
    return _first_credential(Path(path), _CREDENTIALS if code else _CONFIG_CREDENTIALS)


def credential_in_text(text: str) -> str | None:
    """``find_credential`` of prose given to gp2bm (the description of changes): the
    credentials' own shapes, not ``NAME: value`` lines (prose has them: "Key: unchanged")."""
    return _first_credential(text, _CREDENTIALS)


def _first_credential(source: Path | str, patterns) -> str | None:
    for chunk, line, seen in _chunks(source, CREDENTIAL_OVERLAP):
        found = []
        for pattern, what in patterns:
            match = next((m for m in pattern.finditer(chunk) if m.end() > seen), None)
            if match is not None:
                found.append((match.start(), what))
        if found:
            start, what = min(found)
            return f"{what} on line {line + chunk.count(NEWLINE, 0, start)}"
    return None

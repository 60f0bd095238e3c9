"""Keeping secrets out of what gp2bm writes down (run records, bundles, reports).

The container still gets the real values; only the evidence is redacted. A variable is a
secret when its name says so (TOKEN, KEY, SECRET, PASSWORD, credentials, registry auth).
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"
SECRET_NAME = re.compile(
    r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION"
    r"|DOCKER_CONFIG|REGISTRY_USER",
    re.IGNORECASE,
)
# Options whose next argument is NAME=VALUE in the command lines gp2bm renders.
ENV_OPTIONS = {"--env", "-e", "--container-env", "--setenv"}
# env(1)'s own options that take an argument.
ENV_COMMAND_OPTIONS = {"-C", "--chdir", "-u", "--unset"}


def is_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact_env(env: dict[str, str]) -> dict[str, str]:
    return {k: (REDACTED if is_secret(k) else v) for k, v in env.items()}


def _redact_assignment(text: str) -> str:
    name, sep, _ = text.partition("=")
    return f"{name}={REDACTED}" if sep and is_secret(name) else text


def redact_argv(argv: list[str]) -> list[str]:
    """Redact NAME=VALUE arguments naming a secret: after --env/-e, as --env=NAME=VALUE,
    and the leading assignments of an ``env NAME=VALUE ... command`` line."""
    out = []
    after_env_option = False
    skip_next = False
    in_env_prefix = bool(argv) and argv[0] == "env"
    for i, arg in enumerate(argv):
        if skip_next:
            out.append(arg)
            skip_next = False
            continue
        if in_env_prefix and arg in ENV_COMMAND_OPTIONS:
            out.append(arg)
            skip_next = True
            continue
        if after_env_option:
            out.append(_redact_assignment(arg))
            after_env_option = False
            continue
        option, eq, rest = arg.partition("=")
        if option in ENV_OPTIONS and eq:
            out.append(f"{option}={_redact_assignment(rest)}")
        elif arg in ENV_OPTIONS:
            out.append(arg)
            after_env_option = True
        elif in_env_prefix and i > 0 and "=" in arg and not arg.startswith("-"):
            out.append(_redact_assignment(arg))
        else:
            if in_env_prefix and i > 0 and not arg.startswith("-"):
                in_env_prefix = False
            out.append(arg)
    return out

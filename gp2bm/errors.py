"""Every exception gp2bm raises on purpose, and the exit code each one turns into.

Exit 2: the user gave something unusable (missing file, malformed YAML, unknown ruleset).
Exit 1: the input was read and checked, and it is invalid (non-compliant, too many failed
runs, a tampered bundle), or the campaign cannot go on. Exit 130: interrupted.
Messages are one line and name the file and the problem.
"""

from __future__ import annotations


class Gp2bmError(Exception):
    exit_code = 2


class InputError(Gp2bmError):
    """Usage or input error: the message names the file and the problem."""

    exit_code = 2


class InvalidError(Gp2bmError):
    """The checked thing is invalid."""

    exit_code = 1


# ---------------------------------------------------------------------------- campaigns


class RunBusy(Gp2bmError):
    """Another gp2bm process holds this run's lock: it is doing the run right now."""

    exit_code = 1

    def __init__(self, message: str, holder: dict | None = None):
        super().__init__(message)
        self.holder = holder or {}


class Interrupted(Gp2bmError):
    """Ctrl-C or SIGTERM: the run in progress was stopped and kept as a partial attempt."""

    exit_code = 130


class CampaignStopped(Gp2bmError):
    """The campaign cannot go on (e.g. a failed cache drop that was not allowed)."""

    exit_code = 1


class EngineLost(CampaignStopped):
    """The container engine (dockerd) went away while a run was in progress."""


class CampaignCannotPass(CampaignStopped):
    """``run-all --stop-early``: the runs so far already decide that the campaign cannot
    pass; it stops between runs, every finished run kept, and stays resumable."""


class DiskFull(Gp2bmError):
    """The disk holding the campaign is full: the campaign stops, finished runs untouched."""

    exit_code = 2


# ---------------------------------------------------------------------------- the node


class GpuUnavailable(Exception):
    """NVML cannot be used here (no driver, no library, no device); the message says why.

    Never reaches the command line: the GPU probes turn it into "no GPU found" and its reason.
    """


class PowerSourceError(Exception):
    """A node power source cannot be opened or read (the BMC does not answer, refuses, or
    has no such reading); the message says which and why.

    Never reaches the command line: the power sampler turns it into a finding of the run.
    """


# ---------------------------------------------------------------------------- placement


class SchedulerError(InputError):
    """The scheduler refused or could not be reached; the message quotes its answer."""


# ---------------------------------------------------------------------------- hand-in


class UnsafeMember(InvalidError):
    """The archive holds a member that must not be extracted."""


class RefusedSource(InputError):
    """A file of the implementation source that a bundle must not carry (a secret, a name
    or a size verify refuses): refused even with --allow-incomplete."""

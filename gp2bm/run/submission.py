"""The ``submission_*`` MLLOG lines, for implementations whose launcher writes them.

MLCommons' compliance checker wants exactly one of each ``submission_*`` key per result
log. NVIDIA's BERT writes them itself (``mllogger.mlperf_submission_log('bert')`` in
run_pretraining.py); NVIDIA's ResNet leaves them to the host script
(``mlperf_submission_log(RESNET)`` in run.sub and run_with_docker.sh), so a ResNet run
started without it fails compliance. The manifest says who writes them
(``submission_lines: gp2bm | implementation``); gp2bm writes them before the run only in
the first case, so they are never written twice.

The values are the ones mlperf_common's helper writes: the campaign's organisation, the
closed division, the status of the system description, and ``<nodes>x<system>`` as the
platform (what NVIDIA's logs show: ``1xNVIDIA DGX H100``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from gp2bm.errors import InputError

KEYS = (
    "submission_benchmark",
    "submission_org",
    "submission_division",
    "submission_status",
    "submission_platform",
)
WRITERS = ("gp2bm", "implementation")
# The system description's availability (training_policies) and the log's status value.
STATUS_CODES = {
    "available on-premise": "onprem",
    "available cloud": "cloud",
    "preview": "preview",
    "research, development, or internal (rdi)": "research",
    "rdi": "research",
    # earlier rulesets' spellings, and the log's own values
    "available": "onprem",
    "onprem": "onprem",
    "cloud": "cloud",
    "research": "research",
}
_LINE_RE = re.compile(rb":::MLLOG (\{.*\})")


@dataclass(frozen=True)
class SubmissionInfo:
    benchmark: str
    org: str
    division: str
    status: str
    platform: str

    def values(self) -> dict[str, str]:
        return {
            "submission_benchmark": self.benchmark,
            "submission_org": self.org,
            "submission_division": self.division,
            "submission_status": self.status,
            "submission_platform": self.platform,
        }


def status_code(text: str, source: str) -> str:
    """The log's status (onprem, cloud, preview, research) for a system description's."""
    code = STATUS_CODES.get(str(text).strip().lower())
    if code is None:
        known = ", ".join(sorted({k for k in STATUS_CODES if " " in k or k == "rdi"}))
        raise InputError(f"{source}: status '{text}' is none of: {known}")
    return code


def submission_info(
    benchmark: str,
    org: str,
    system: str,
    status: str,
    nodes: int = 1,
    division: str = "closed",
    source: str = "the system description",
) -> SubmissionInfo:
    """The values of a campaign's submission lines (status as the system description says)."""
    for what, value in (("organisation", org), ("system name", system)):
        if not value.strip():
            raise InputError(f"{source}: the {what} is empty")
    return SubmissionInfo(
        benchmark=benchmark,
        org=org,
        division=division,
        status=status_code(status, source),
        platform=f"{nodes}x{system}",
    )


def mllog_record(key: str, value, time_ms: int) -> bytes:
    record = {
        "namespace": "",
        "time_ms": time_ms,
        "event_type": "POINT_IN_TIME",
        "key": key,
        "value": value,
        "metadata": {"file": "gp2bm", "lineno": 0},
    }
    return (":::MLLOG " + json.dumps(record) + "\n").encode()


def submission_lines(writer: str, info: SubmissionInfo, time_ms: int) -> bytes:
    """What gp2bm writes into the log before the run: the five lines when the manifest
    says gp2bm writes them, nothing when the implementation does."""
    if writer not in WRITERS:
        raise InputError(f"submission_lines '{writer}' is none of: {', '.join(WRITERS)}")
    if writer == "implementation":
        return b""
    return b"".join(mllog_record(k, v, time_ms) for k, v in info.values().items())


def key_counts(log: bytes) -> dict[str, int]:
    """How often each submission key occurs in a log (MLLOG lines anywhere on a line, as
    mpirun and srun prefix them)."""
    counts = dict.fromkeys(KEYS, 0)
    for match in _LINE_RE.finditer(log):
        try:
            key = json.loads(match.group(1)).get("key")
        except ValueError:
            continue
        if key in counts:
            counts[key] += 1
    return counts


def writer_problem(writer: str, log: bytes, manifest: str) -> str | None:
    """Why a finished run's submission lines break compliance, naming the manifest fix."""
    counts = key_counts(log)
    twice = [k for k, n in counts.items() if n > 1]
    missing = [k for k, n in counts.items() if n == 0]
    if twice and writer == "gp2bm":
        return (
            f"{', '.join(twice)} written twice: the implementation writes its submission "
            f"lines itself; set submission_lines: implementation in {manifest}"
        )
    if twice:
        return f"{', '.join(twice)} written more than once by the implementation"
    if missing and writer == "implementation":
        return (
            f"no {', '.join(missing)} in the log: the implementation leaves them to its "
            f"launcher (as NVIDIA's ResNet does); set submission_lines: gp2bm in {manifest}"
        )
    if missing:
        return f"no {', '.join(missing)} in the log"
    return None

"""gp2bm's own MLLOG lines in a run's log: ``cache_clear``, the traceability line that
names the image and gp2bm's version, and the closing verdict. Unknown keys are allowed by
MLCommons' checkers."""

from __future__ import annotations

import json
import time

from gp2bm.results.runlog import GP2BM_RUN, GP2BM_RUN_END

KEY_TRACE = GP2BM_RUN
KEY_END = GP2BM_RUN_END


def mllog_line(
    key: str,
    value,
    metadata: dict | None = None,
    time_ms: int | None = None,
    event_type: str = "POINT_IN_TIME",
) -> bytes:
    record = {
        "namespace": "",
        "time_ms": int(time.time() * 1000) if time_ms is None else time_ms,
        "event_type": event_type,
        "key": key,
        "value": value,
        "metadata": {"file": "gp2bm", "lineno": 0, **(metadata or {})},
    }
    return (":::MLLOG " + json.dumps(record, sort_keys=False) + "\n").encode()

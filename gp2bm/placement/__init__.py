"""Batch schedulers behind one narrow interface (see base.py); one file per scheduler.

``fanout`` spreads a campaign's missing runs over a scheduler's nodes as one job array,
``task`` is what each array task does on its node, ``runstate`` tells every run's state
from the campaign folder and the scheduler.
"""

from gp2bm.errors import SchedulerError
from gp2bm.placement.base import (
    NAMES,
    SCHEDULERS,
    ArrayJob,
    Scheduler,
    TaskState,
    get_scheduler,
    register,
)

__all__ = [
    "NAMES",
    "SCHEDULERS",
    "ArrayJob",
    "Scheduler",
    "SchedulerError",
    "TaskState",
    "get_scheduler",
    "register",
]

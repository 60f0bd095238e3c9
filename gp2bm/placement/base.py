"""The narrow interface every batch scheduler implements (the runtimes' counterpart).

A scheduler *renders* what it would run as argument lists (submit a job array, ask for the
state of jobs, cancel them: pure functions, tested without a cluster and shown by
``--dry-run``), parses what its commands answer into plain data, and a small part executes
the commands. gp2bm needs only this from a scheduler: run one command per task of an array,
each task alone on its nodes (one, or a suite's node count), at most N at a time; tell which
tasks are still waiting or running, on which node; say how the finished ones ended while it
still knows; how many nodes a partition has.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from gp2bm.errors import InputError


@dataclass(frozen=True)
class ArrayJob:
    """One job array: the same command on ``nodes`` exclusive nodes per task (its batch
    script runs on the first of them; a run across nodes steps onto the others).

    ``script`` is a batch script that runs its own arguments; ``command`` is those
    arguments. Each task finds its index in the environment (``Scheduler.task_id_env``).
    """

    name: str
    task_ids: list[int]
    script: Path
    command: list[str]
    output: str  # each task's stdout+stderr, with the scheduler's own placeholders
    max_parallel: int | None = None
    partition: str | None = None
    account: str | None = None
    time_limit: str | None = None
    workdir: Path | None = None
    extra: list[str] = field(default_factory=list)
    nodes: int = 1


@dataclass(frozen=True)
class TaskState:
    """One task of an array as the scheduler sees it."""

    job_id: str  # the array's id
    task_id: int | None
    state: str  # the scheduler's word: PENDING, RUNNING, COMPLETED, FAILED, CANCELLED...
    node: str | None = None
    reason: str | None = None
    exit_code: str | None = None

    @property
    def ident(self) -> str:
        return self.job_id if self.task_id is None else f"{self.job_id}_{self.task_id}"


class Scheduler(ABC):
    name: ClassVar[str]
    # where a task finds its index, its node's name and its own job name
    task_id_env: ClassVar[str]
    node_env: ClassVar[str]
    # the task's output file, with the array's id and the task's index
    output_pattern: ClassVar[str]

    @abstractmethod
    def render_submit(self, job: ArrayJob) -> list[str]: ...

    @abstractmethod
    def submit(self, job: ArrayJob) -> str:
        """Submit the array; return its job id."""

    @abstractmethod
    def queued(self, job_ids: list[str]) -> list[TaskState]:
        """The tasks of these jobs that are still pending or running (one entry per task)."""

    @abstractmethod
    def finished(self, job_id: str) -> list[TaskState]:
        """How the tasks of a job ended, while the scheduler still remembers (else [])."""

    def partition_nodes(self, partition: str | None) -> int | None:
        """How many nodes the partition (None: the default one) has; None when unknown."""
        return None

    @abstractmethod
    def render_cancel(self, idents: list[str]) -> list[str]: ...

    @abstractmethod
    def cancel(self, idents: list[str]) -> None: ...


# Every built-in scheduler, by name; each is the module gp2bm.placement.<name>, imported
# when asked for (it imports this module to register itself, never the other way round).
NAMES = ("slurm",)
SCHEDULERS: dict[str, type[Scheduler]] = {}


def register(cls: type[Scheduler]) -> type[Scheduler]:
    SCHEDULERS[cls.name] = cls
    return cls


def get_scheduler(name: str, **options) -> Scheduler:
    if name not in NAMES:
        raise InputError(f"unknown scheduler '{name}' (known: {', '.join(NAMES)})")
    importlib.import_module(f"gp2bm.placement.{name}")
    return SCHEDULERS[name](**options)

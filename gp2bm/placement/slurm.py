"""Slurm: job arrays with sbatch, their state with squeue and ``scontrol show job``.

The command lines are pure functions of plain data (``sbatch_argv``, ``squeue_argv``,
``scontrol_argv``, ``scancel_argv``) and so are the parsers of what the commands print;
``SlurmScheduler`` only runs them. No accounting is assumed (``sacct`` needs slurmdbd, which
many clusters and every test set-up lack): a finished task is known from ``scontrol show
job`` for MinJobAge seconds after its end, and from the campaign folder for ever.
"""

from __future__ import annotations

import subprocess

from gp2bm.errors import SchedulerError
from gp2bm.files.command import run_short
from gp2bm.placement.base import ArrayJob, Scheduler, TaskState, register

COMMAND_TIMEOUT_S = 60
SQUEUE_FORMAT = "%F|%K|%T|%N|%r"
# What squeue and scontrol say about a job id the controller no longer knows.
UNKNOWN_JOB = "Invalid job id specified"


def array_spec(task_ids: list[int], max_parallel: int | None = None) -> str:
    """``[0, 1, 2, 5, 7, 8]``, 4 -> ``0-2,5,7-8%4`` (sbatch's --array syntax)."""
    ids = sorted(set(task_ids))
    if not ids:
        raise ValueError("a job array needs at least one task")
    parts = []
    start = prev = ids[0]
    for i in ids[1:] + [None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if i is not None:
            start = prev = i
    spec = ",".join(parts)
    return f"{spec}%{max_parallel}" if max_parallel else spec


def sbatch_argv(job: ArrayJob, sbatch: str = "sbatch") -> list[str]:
    argv = [
        sbatch,
        "--parsable",
        f"--job-name={job.name}",
        f"--array={array_spec(job.task_ids, job.max_parallel)}",
        # whole nodes per task: a run must not share them; a one-node run is one task, a run
        # across nodes steps onto each of its nodes from the batch script on the first
        *(
            ["--nodes=1", "--ntasks=1"]
            if job.nodes == 1
            else [f"--nodes={job.nodes}", "--ntasks-per-node=1"]
        ),
        "--exclusive",
        f"--output={job.output}",
    ]
    if job.partition:
        argv.append(f"--partition={job.partition}")
    if job.account:
        argv.append(f"--account={job.account}")
    if job.time_limit:
        argv.append(f"--time={job.time_limit}")
    if job.workdir:
        argv.append(f"--chdir={job.workdir}")
    return argv + list(job.extra) + [str(job.script), *job.command]


def parse_sbatch(text: str) -> str:
    """``sbatch --parsable`` prints ``JOBID`` or ``JOBID;CLUSTER``."""
    line = text.strip().splitlines()[-1] if text.strip() else ""
    job_id = line.split(";", 1)[0].strip()
    if not job_id.isdigit():
        raise SchedulerError(f"sbatch gave no job id: {text.strip()[:200]!r}")
    return job_id


def squeue_argv(job_ids: list[str], squeue: str = "squeue") -> list[str]:
    # --array: one line per task, pending ones included (not "12_[3-9%4]")
    return [
        squeue,
        "--noheader",
        "--array",
        f"--jobs={','.join(job_ids)}",
        f"--format={SQUEUE_FORMAT}",
    ]


def _task_id(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() else None


def _none(text: str | None) -> str | None:
    text = (text or "").strip()
    return None if text in ("", "None", "(null)", "N/A") else text


def parse_squeue(text: str) -> list[TaskState]:
    tasks = []
    for line in text.splitlines():
        fields = line.strip().split("|")
        if len(fields) < 5 or not fields[0].strip():
            continue
        job, task, state, node, reason = (f.strip() for f in fields[:5])
        tasks.append(TaskState(job, _task_id(task), state, _none(node), _none(reason)))
    return tasks


def scontrol_argv(job_id: str, scontrol: str = "scontrol") -> list[str]:
    return [scontrol, "--oneliner", "show", "job", job_id]


def parse_scontrol_fields(line: str) -> dict[str, str]:
    """``Key=Value Key=Value ...`` of ``scontrol --oneliner``; a value may hold spaces."""
    fields: dict[str, str] = {}
    key = None
    for token in line.strip().split(" "):
        name, sep, value = token.partition("=")
        if sep and name and name.replace("_", "").replace(":", "").isalnum():
            key = name
            fields[key] = value
        elif key is not None:
            fields[key] += " " + token
    return fields


def parse_scontrol(text: str) -> list[TaskState]:
    tasks = []
    for line in text.splitlines():
        f = parse_scontrol_fields(line)
        if "JobId" not in f:
            continue
        job = f.get("ArrayJobId") or f["JobId"]
        task = f.get("ArrayTaskId")
        if task is not None and not task.isdigit():
            continue  # the array's pending remainder ("5-9%2"): squeue lists those
        tasks.append(
            TaskState(
                job,
                _task_id(task) if task else None,
                f.get("JobState", "?"),
                _none(f.get("NodeList")),
                _none(f.get("Reason")),
                _none(f.get("ExitCode")),
            )
        )
    return tasks


def scancel_argv(idents: list[str], scancel: str = "scancel") -> list[str]:
    return [scancel, *idents]


def sinfo_argv(partition: str | None, sinfo: str = "sinfo") -> list[str]:
    argv = [sinfo, "--noheader", "--format=%P|%D"]
    return argv + ([f"--partition={partition}"] if partition else [])


def parse_sinfo_nodes(text: str, partition: str | None) -> int | None:
    """The node count of the partition (``%P|%D``: the default one is starred)."""
    for line in text.splitlines():
        name, _, count = line.strip().partition("|")
        if not count.strip().isdigit():
            continue
        if (partition and name.rstrip("*") == partition) or (not partition and name.endswith("*")):
            return int(count)
    return None


@register
class SlurmScheduler(Scheduler):
    name = "slurm"
    task_id_env = "SLURM_ARRAY_TASK_ID"
    node_env = "SLURMD_NODENAME"
    output_pattern = "%A_%a.out"

    def __init__(
        self,
        sbatch="sbatch",
        squeue="squeue",
        scontrol="scontrol",
        scancel="scancel",
        sinfo="sinfo",
    ):
        self.sbatch, self.squeue, self.scontrol, self.scancel = sbatch, squeue, scontrol, scancel
        self.sinfo = sinfo

    @staticmethod
    def _run(argv: list[str], quiet_errors: tuple[str, ...] = ()) -> str | None:
        try:
            proc = run_short(argv, COMMAND_TIMEOUT_S)
        except FileNotFoundError:
            raise SchedulerError(
                f"{argv[0]}: not found (run gp2bm on a Slurm login node, with Slurm's "
                "commands on PATH)"
            ) from None
        except subprocess.TimeoutExpired:
            raise SchedulerError(f"{argv[0]}: no answer in {COMMAND_TIMEOUT_S} s") from None
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout).strip()
            if any(q in err for q in quiet_errors):
                return None
            last = err.splitlines()[-1] if err else f"exit status {proc.returncode}"
            raise SchedulerError(f"{argv[0]} failed: {last}")
        return proc.stdout

    def render_submit(self, job: ArrayJob) -> list[str]:
        return sbatch_argv(job, self.sbatch)

    def submit(self, job: ArrayJob) -> str:
        return parse_sbatch(self._run(self.render_submit(job)) or "")

    def queued(self, job_ids: list[str]) -> list[TaskState]:
        if not job_ids:
            return []
        text = self._run(squeue_argv(job_ids, self.squeue), quiet_errors=(UNKNOWN_JOB,))
        return parse_squeue(text or "")

    def finished(self, job_id: str) -> list[TaskState]:
        text = self._run(scontrol_argv(job_id, self.scontrol), quiet_errors=(UNKNOWN_JOB,))
        return parse_scontrol(text or "")

    def partition_nodes(self, partition: str | None) -> int | None:
        text = self._run(sinfo_argv(partition, self.sinfo)) or ""
        count = parse_sinfo_nodes(text, partition)
        if count is None and partition:
            raise SchedulerError(f"sinfo names no partition '{partition}'")
        return count

    def render_cancel(self, idents: list[str]) -> list[str]:
        return scancel_argv(idents, self.scancel)

    def cancel(self, idents: list[str]) -> None:
        if idents:
            self._run(self.render_cancel(idents))

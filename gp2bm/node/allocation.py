"""The Slurm allocation gp2bm runs in, its nodes, and one step on each of them.

A run across N nodes happens inside an allocation of at least N nodes (an array task of
``run-all --slurm``, or ``salloc -N N``): its nodes are the allocation's first N, in
Slurm's order, so rank 0 is on the first (where the batch script of a task runs). What
gp2bm does on every node (make the image ready, fingerprint and check it, drop its page
cache, sample its telemetry) is one srun step of one task per node; a step's gp2bm prints
one JSON line per node, each naming its node, and ``each_node`` gathers them.

The commands are pure functions (``each_node_argv``, ``hostnames_argv``, ``node_argv``)
and so are the parsers; only ``current_allocation``, ``node_address`` and ``run_each``
execute anything, each with a bound on its time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gp2bm.errors import InputError
from gp2bm.files.command import run_short

JOB_ENV = "SLURM_JOB_ID"
NODELIST_ENV = "SLURM_JOB_NODELIST"
COMMAND_TIMEOUT_S = 60
NODE_ADDR_RE = re.compile(r"(?:^|\s)NodeAddr=(\S+)")


@dataclass(frozen=True)
class Allocation:
    job: str
    nodes: tuple[str, ...]

    def first(self, count: int, where: str) -> tuple[str, ...]:
        """The nodes of a run of ``count`` nodes; InputError when the allocation is smaller."""
        if count > len(self.nodes):
            raise InputError(
                f"{where}: the suite runs each run on {count} nodes, but Slurm job {self.job} "
                f"has {len(self.nodes)} ({','.join(self.nodes)}): allocate {count} nodes "
                f"(salloc -N {count}), or use run-all --slurm"
            )
        return self.nodes[:count]


def gp2bm_argv(*args: str) -> list[str]:
    """This gp2bm, as every node of an allocation runs it (the shared installation)."""
    return [sys.executable, "-P", "-m", "gp2bm", *args]


def hostnames_argv(nodelist: str, scontrol: str = "scontrol") -> list[str]:
    return [scontrol, "show", "hostnames", nodelist]


def node_argv(node: str, scontrol: str = "scontrol") -> list[str]:
    return [scontrol, "--oneliner", "show", "node", node]


def each_node_argv(srun: str, nodes: tuple[str, ...], overlap: bool = False) -> list[str]:
    """srun's words for one task on each of ``nodes``; ``overlap``: beside a running step
    (telemetry beside the run), sharing its CPUs."""
    argv = [
        srun,
        f"--nodes={len(nodes)}",
        f"--ntasks={len(nodes)}",
        "--ntasks-per-node=1",
        f"--nodelist={','.join(nodes)}",
    ]
    return argv + (["--overlap"] if overlap else [])


def parse_node_address(text: str, node: str) -> str:
    """``NodeAddr`` of ``scontrol --oneliner show node``: how Slurm reaches the node."""
    m = NODE_ADDR_RE.search(text)
    return m.group(1) if m else node


def _call(argv: list[str], timeout: float, what: str, timed_out: str) -> tuple[int, str, str]:
    """A Slurm command's exit code, output and last line of error (or of output); one line
    naming ``what`` when Slurm is not here or the command does not end in ``timeout``."""
    try:
        proc = run_short(argv, timeout)
    except FileNotFoundError:
        raise InputError(f"{what}: {argv[0]} not found (a run across nodes needs Slurm)") from None
    except subprocess.TimeoutExpired:
        raise InputError(f"{what}: {timed_out} in {timeout:g} s") from None
    tail = (proc.stderr or proc.stdout).strip().splitlines()
    return proc.returncode, proc.stdout, tail[-1] if tail else ""


def _run(argv: list[str], timeout: float = COMMAND_TIMEOUT_S) -> str:
    what = " ".join(argv[:3])
    code, out, last = _call(argv, timeout, what, "no answer")
    if code != 0:
        raise InputError(f"{what} failed: {last or 'no output'}")
    return out


def in_allocation() -> bool:
    """Whether this process runs inside a Slurm allocation."""
    return bool(os.environ.get(JOB_ENV) and os.environ.get(NODELIST_ENV))


def current_allocation(scontrol: str = "scontrol") -> Allocation | None:
    """The allocation this process runs in (its nodes in Slurm's order), None outside one."""
    if not in_allocation():
        return None
    job, nodelist = os.environ[JOB_ENV], os.environ[NODELIST_ENV]
    nodes = tuple(n for n in _run(hostnames_argv(nodelist, scontrol)).split() if n)
    return Allocation(job, nodes)


def node_address(node: str, scontrol: str = "scontrol") -> str:
    """The address the other nodes reach ``node`` by (rank 0's ``MASTER_ADDR``)."""
    return parse_node_address(_run(node_argv(node, scontrol)), node)


def parse_each(text: str, nodes: tuple[str, ...], what: str) -> dict[str, dict]:
    """One JSON object per node (``{"node": NAME, ...}``) among a step's output lines;
    InputError naming the nodes that said nothing."""
    found: dict[str, dict] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("node") in nodes:
            found[data["node"]] = data
    missing = [n for n in nodes if n not in found]
    if missing:
        raise InputError(f"{what}: no answer from {', '.join(missing)}")
    return found


def task_output_option(folder: Path) -> str:
    """srun's option that sends each task's output (and errors) to its own file in
    ``folder``: Slurm forwards a task's output to srun in messages of at most 1 KiB, so the
    long lines of two nodes would come interleaved on srun's own output."""
    return f"--output={folder / '%t.out'}"


def read_task_outputs(folder: Path) -> str:
    """Every task's output file of ``folder`` (read, then removed with the folder)."""
    files = sorted(folder.glob("*.out")) if folder.is_dir() else []
    texts = [f.read_text(errors="replace") for f in files]
    shutil.rmtree(folder, ignore_errors=True)
    return "\n".join(texts)


def run_each(
    each_node: list[str],
    command: list[str],
    nodes: tuple[str, ...],
    what: str,
    timeout: float,
    outputs: Path,
) -> dict:
    """Run ``command`` as one task on each node (srun's words ``each_node``) and gather each
    node's JSON line from its own output file in ``outputs`` (a folder every node sees)."""
    shutil.rmtree(outputs, ignore_errors=True)
    outputs.mkdir(parents=True)
    try:
        code, _, last = _call(
            [*each_node, task_output_option(outputs), *command],
            timeout,
            what,
            "not done on every node",
        )
    finally:
        text = read_task_outputs(outputs)
    if code != 0:
        said = [line for line in text.splitlines() if line.strip() and line[0] != "{"]
        last = said[-1] if said else last
        raise InputError(f"{what} failed (exit {code})" + (f": {last}" if last else ""))
    return parse_each(text, nodes, what)

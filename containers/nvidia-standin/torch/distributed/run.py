"""Stand-in for ``python -m torch.distributed.run`` (torchrun), single node and static.

What NVIDIA's BERT launch relies on, as torch's elastic agent does it: ``--nproc_per_node``
processes of the command (``--no_python``: the command itself, else ``python -u`` of it),
each with LOCAL_RANK, RANK, GROUP_RANK, ROLE_RANK, LOCAL_WORLD_SIZE, WORLD_SIZE,
ROLE_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RUN_ID, TORCHELASTIC_RESTART_COUNT,
TORCHELASTIC_MAX_RESTARTS, and OMP_NUM_THREADS=1 when several processes share the node and
it is unset. ``--standalone``: this host and a free port. When a process fails, the others
are stopped and the launcher exits 1 naming the failed rank; SIGTERM/SIGINT are passed on.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import uuid


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="torch.distributed.run")
    p.add_argument("--standalone", action="store_true")
    p.add_argument("--no_python", "--no-python", action="store_true")
    p.add_argument("--nproc_per_node", "--nproc-per-node", default="1")
    p.add_argument("--nnodes", default="1")
    p.add_argument("--node_rank", "--node-rank", type=int, default=0)
    p.add_argument("--master_addr", "--master-addr", default="127.0.0.1")
    p.add_argument("--master_port", "--master-port", type=int, default=29500)
    p.add_argument("training_script")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p.parse_args(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environments(args: argparse.Namespace) -> list[dict[str, str]]:
    nproc, nnodes = int(args.nproc_per_node), int(args.nnodes.split(":")[-1])
    addr = socket.getfqdn(socket.gethostname()) if args.standalone else args.master_addr
    port = free_port() if args.standalone else args.master_port
    run_id = str(uuid.uuid4()) if args.standalone else "none"
    base = dict(os.environ)
    if nproc > 1 and "OMP_NUM_THREADS" not in base:
        print(
            "*" * 50 + "\nSetting OMP_NUM_THREADS environment variable for each process to "
            "be 1 in default, to avoid your system being overloaded.\n" + "*" * 50,
            file=sys.stderr,
            flush=True,
        )
        base["OMP_NUM_THREADS"] = "1"
    envs = []
    for local in range(nproc):
        rank = args.node_rank * nproc + local
        envs.append(
            {
                **base,
                "LOCAL_RANK": str(local),
                "RANK": str(rank),
                "GROUP_RANK": str(args.node_rank),
                "ROLE_RANK": str(rank),
                "LOCAL_WORLD_SIZE": str(nproc),
                "WORLD_SIZE": str(nproc * nnodes),
                "ROLE_WORLD_SIZE": str(nproc * nnodes),
                "MASTER_ADDR": addr,
                "MASTER_PORT": str(port),
                "TORCHELASTIC_RUN_ID": run_id,
                "TORCHELASTIC_RESTART_COUNT": "0",
                "TORCHELASTIC_MAX_RESTARTS": "0",
            }
        )
    return envs


def main(argv: list[str]) -> int:
    args = parse(argv)
    cmd = [args.training_script, *args.training_script_args]
    if not args.no_python:
        cmd = [sys.executable, "-u", *cmd]
    # Each process leads its own group, so that a stop reaches what it started too.
    procs = [subprocess.Popen(cmd, env=env, start_new_session=True) for env in environments(args)]

    def stop(signum, frame):
        for p in procs:
            try:
                os.killpg(p.pid, signum)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        codes = [p.poll() for p in procs]
        failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
        if failed:
            stop(signal.SIGTERM, None)
            for p in procs:
                p.wait()
            rank, code = failed[0]
            print(
                f"torch.distributed.elastic.multiprocessing.errors.ChildFailedError: "
                f"{cmd[0]} FAILED (local_rank {rank}, exitcode {code})",
                file=sys.stderr,
                flush=True,
            )
            return 1
        if all(c == 0 for c in codes):
            return 0
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Container runtimes behind one narrow interface (see base.py); one file per runtime."""

from gp2bm.runtimes.base import RUNTIMES, Execution, RunSpec, Runtime, get_runtime, register

__all__ = ["RUNTIMES", "Execution", "Runtime", "RunSpec", "get_runtime", "register"]

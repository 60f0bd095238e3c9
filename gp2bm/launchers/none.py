"""No launcher: the command runs as one process (the smoke workload, single-GPU code)."""

from __future__ import annotations

from gp2bm.launchers.base import Launcher, LaunchPlan, register


@register
class NoLauncher(Launcher):
    name = "none"
    origin = "the command as the manifest gives it"

    def wrap(self, command: list[str], plan: LaunchPlan) -> list[str]:
        return list(command)

    def rank_environment(self, plan: LaunchPlan, local_rank: int) -> dict[str, str]:
        # Nothing: NVIDIA's bindpcie then stops with "cannot read LOCAL_RANK from env".
        return {}

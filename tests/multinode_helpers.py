"""Small suites of the smoke benchmark across nodes (launcher srun), for the multi-node tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from gp2bm.spec.suite import MIN_RUNS

TRAIN = Path(__file__).resolve().parents[1] / "containers" / "smoke" / "train.py"
TARGETS = {"resnet": 0.759, "bert": 0.720}
WEIGHTS = {"resnet": 7.19, "bert": 9.05}


def write_multinode_suite(
    folder: Path,
    nodes: int,
    per_node: int,
    runs: dict[str, int] | None = None,
    *,
    image: str = "gp2bm/smoke:latest",
    extra_args: list[str] | None = None,
    launcher: str = "srun",
) -> Path:
    """A smoke suite of ``nodes`` nodes per run, ``per_node`` ranks on each (launcher srun)."""
    runs = runs or {"resnet": 3, "bert": 3}
    folder.mkdir(parents=True, exist_ok=True)
    benchmarks = {}
    for bench, n in runs.items():
        manifest = {
            "benchmark": bench,
            "image": image,
            "implementation": {"name": "numpy", "source": "/workspace/smoke"},
            "command": ["--benchmark", bench, *(extra_args or [])],
            "seed": {"env": "SEED"},
            "launcher": {"name": launcher, "processes_per_node": per_node},
            "gpus": "none",
            "network": "host",
            "timeout_minutes": 5,
            # what the local runtime would run (it is refused across nodes)
            "local": {"command": ["{python}", str(TRAIN), "--benchmark", bench]},
        }
        (folder / f"{bench}.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
        benchmarks[bench] = {
            "manifest": f"{bench}.yaml",
            "runs": n,
            "target": TARGETS[bench],
            "weight": WEIGHTS[bench],
        }
    suite = {
        "name": f"smoke-{nodes}x{per_node}",
        "ruleset": "3.1.0",
        "nodes": nodes,
        "checks": {"compliance": "strict", "rcp": False},
        "benchmarks": benchmarks,
    }
    if min(runs.values()) < MIN_RUNS:
        suite["trial"] = True
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path

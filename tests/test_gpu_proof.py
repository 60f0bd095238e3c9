"""benchmarks/gpu_proof.sh in its no-GPU mode (CI has no GPU): it says what it skipped and
why, and exits 0. Its GPU mode runs on a machine with an NVIDIA GPU and PyTorch."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_proof.sh"


def proof(tmp_path: Path, path: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": path}
    return subprocess.run(["bash", str(SCRIPT), str(tmp_path / "out")], env=env,
                          capture_output=True, text=True, timeout=60)


def test_without_a_driver_it_skips_every_gpu_step_and_says_why(tmp_path):
    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has nvidia-smi: the script runs its GPU mode here")
    done = proof(tmp_path, os.environ["PATH"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SKIPPED: inventory, telemetry, GPU smoke campaign, GPU energy: no nvidia-smi" in (
        done.stdout
    )
    assert "=== 1." not in done.stdout  # nothing ran that needs a GPU


def test_with_a_driver_that_finds_no_gpu_it_skips_and_quotes_it(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'No devices were found'\nexit 6\n")
    fake.chmod(0o755)
    done = proof(tmp_path, f"{bin_dir}:{os.environ['PATH']}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SKIPPED: every GPU step: nvidia-smi finds no GPU (No devices were found)" in (
        done.stdout
    )

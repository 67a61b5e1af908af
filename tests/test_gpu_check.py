"""benchmarks/gpu_check.sh in its CPU mode: every step runs, one line per figure, CUDA-only ones say so."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.xdist_group("ddp")  # it starts two torchrun processes, as the DDP test does
def test_gpu_check_runs_on_a_cpu_and_prints_every_figure():
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--cpu"], cwd=ROOT, capture_output=True, text=True,
        timeout=600, env={**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    figures = done.stdout.split("== figures (cpu)\n", 1)[1].splitlines()
    assert len(figures) == 9 and all(line.startswith("gpu_check: ") for line in figures), figures
    expected = ["train step 32x32", "train step with bf16 AMP + channels_last: skipped (needs CUDA",
                "fcn-score (cpu", "fcn-score (cpu", "fcn-score (cpu", "torchrun DDP: 2 processes, backend gloo",
                "torchrun DDP with NCCL on GPUs: skipped (needs CUDA", "FCN-8s 64x128",
                "FCN-8s 1024x2048 images/s and peak GPU memory: skipped (needs CUDA"]
    for line, start in zip(figures, expected):
        assert line.removeprefix("gpu_check: ").startswith(start), (line, start)
    assert "weights identical on every rank" in figures[5]
    assert "usage" in subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--gpu"],
                                     capture_output=True, text=True).stderr

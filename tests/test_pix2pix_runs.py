"""pix2pix runs end to end: the run layout, resume after SIGKILL, NaN stop, generate, DDP with gloo."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import make_prepared_dataset
from p2p_eval.cli import main
from p2p_eval.data.files import read_json
from p2p_eval.data.matching import match_frames
from p2p_eval.data.prepared import PreparedDataset, split_record
from p2p_eval.data.runs import discover_runs
from trainers.pix2pix import losses
from trainers.pix2pix.checkpoint import LATEST, read_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--size", "32", "--ngf", "4", "--sample-every", "2"]


def _train_args(data, out, *extra, variant="unet-l1-cgan", epochs=(2, None)):
    """Arguments of a tiny run: the Torch schedule for (n, None), the PyTorch one for (n, decay)."""
    schedule = ["--epochs", str(epochs[0])]
    if epochs[1] is not None:
        schedule = ["--schedule", "pytorch", *schedule, "--decay-epochs", str(epochs[1])]
    return ["train", "--data", str(data), "--variant", variant, "--out", str(out), *schedule, *SMALL, *extra]


def test_trained_run_is_scoreable_and_documented(prepared, tmp_path):
    out = tmp_path / "runs" / "unet-l1-cgan"
    assert main(_train_args(prepared, out, "--ndf", "4")) == 0
    meta = read_json(out / "run.json")
    for key in ("name", "variant", "preset", "dataset", "direction", "seed", "steps", "config", "versions", "eval_mode"):
        assert key in meta, key
    assert meta["dataset"] == str(prepared.resolve()) and meta["steps"] == 8 and meta["status"] == "done"
    assert meta["protocol"] == {"schedule": "torch", "epochs": 2, "decay_epochs": 0, "batch_size": 1,
                                "quantize": "truncate"}
    assert meta["config"]["schedule"]["kind"] == "torch" and meta["generated"]["val"]["quantize"] == "truncate"
    assert meta["config"]["loss"]["l1_weight"] == 100 and meta["config"]["discriminator"]["receptive_field"] == "70"
    data = PreparedDataset.load(prepared)
    (run,) = discover_runs([tmp_path / "runs"])
    pairs = match_frames(run, data.frames("val"), "val")  # every val frame has its image
    for _, path in pairs:
        image = Image.open(path)
        assert (image.mode, image.size) == ("RGB", (32, 32))
    with (out / "losses.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 9))
    assert {"g_gan", "g_l1", "d_real", "d_fake", "lr"} <= set(rows[0])
    assert {float(r["lr"]) for r in rows} == {2e-4}  # the Torch schedule: constant, no decay
    assert sorted(p.name for p in (out / "samples").iterdir()) == [f"step_{s:07d}.png" for s in (2, 4, 6, 8)]
    page = (out / "index.html").read_text()
    assert page.count("<tr><td>") == 3 and "html/val/city_000000_000019_input.png" in page
    assert read_checkpoint(out / LATEST)["step"] == 8


def test_generate_paper_mode_and_eval_mode(prepared, tmp_path):
    out = tmp_path / "run"
    assert main(_train_args(prepared, out, variant="unet-l1")) == 0
    image = out / "images" / "val" / "city_000000_000019.png"
    paper = np.asarray(Image.open(image))
    before = read_checkpoint(out / LATEST)["generator"]
    assert main(["generate", str(out), "--split", "val"]) == 0
    assert np.array_equal(np.asarray(Image.open(image)), paper)  # seeded per frame: reproducible
    assert main(["generate", str(out), "--data", str(prepared), "--split", "train", "--eval-mode"]) == 0
    meta = read_json(out / "run.json")
    assert meta["eval_mode"] is True
    assert meta["generated"]["train"] == {"frames": 4, "step": 8, "eval_mode": True, "quantize": "truncate",
                                          "dataset": split_record(PreparedDataset.load(prepared), "train")}
    assert len(list((out / "images" / "train").glob("*.png"))) == 4
    after = read_checkpoint(out / LATEST)["generator"]
    assert all(torch.equal(before[k], after[k]) for k in before)
    # Rounding instead of tensor2im's truncation: the same output, at most one level brighter.
    assert main(["generate", str(out), "--split", "val", "--quantize", "round"]) == 0
    rounded = np.asarray(Image.open(image)).astype(int)
    assert set(np.unique(rounded - paper).tolist()) == {0, 1}
    meta = read_json(out / "run.json")
    assert meta["protocol"]["quantize"] == "round" and meta["generated"]["val"]["quantize"] == "round"
    assert main(["generate", str(out), "--split", "val"]) == 0  # run.json's choice is the default now
    assert np.array_equal(np.asarray(Image.open(image)), rounded)


def test_generate_from_another_dataset_moves_the_run_to_it(prepared, tmp_path, capsys):
    # #14.1: run.json kept naming the training data, so a later `fcn-score RUN` scored the new
    # images against the old labels (0.472 where --data OTHER gave 0.502).
    out = tmp_path / "run"
    assert main(_train_args(prepared, out, variant="unet-l1", epochs=(1, None))) == 0
    other = make_prepared_dataset(tmp_path / "other", splits={"train": 4, "val": 3}, seed=7)
    assert main(["generate", str(out), "--data", str(other), "--split", "val"]) == 0
    meta = read_json(out / "run.json")
    assert meta["dataset"] == str(other.resolve()) and meta["trained_on"] == str(prepared.resolve())
    assert meta["generated"]["val"]["dataset"] == split_record(PreparedDataset.load(other), "val")
    assert f"run.json's dataset is now {other.resolve()}" in capsys.readouterr().out
    args = ["colorfulness", str(out), "--quiet", "--resamples", "100", "--workers", "0"]
    assert main([*args, "--json", str(tmp_path / "c.json")]) == 0  # no --data: the data the images came from
    assert read_json(tmp_path / "c.json")["data"]["dataset"] == str(other.resolve())
    assert main([*args, "--data", str(prepared)]) == 2  # the training data: not what these images were made from
    assert "generated from" in capsys.readouterr().err


def test_pytorch_schedule_decays_per_epoch_in_training(prepared, tmp_path):
    out = tmp_path / "run"
    assert main(_train_args(prepared, out, variant="unet-l1", epochs=(2, 1))) == 0
    with (out / "losses.csv").open() as f:
        lrs = [float(r["lr"]) for r in csv.DictReader(f)]
    assert lrs == [2e-4] * 4 + [1e-4] * 4 + [0.0] * 4  # epochs 1-3 of 4 steps: 1, 1 - 1/2, 1 - 2/2
    protocol = read_json(out / "run.json")["protocol"]
    assert (protocol["schedule"], protocol["epochs"], protocol["decay_epochs"]) == ("pytorch", 2, 1)


def test_refuses_settings_that_do_not_apply_and_existing_runs(prepared, tmp_path, capsys):
    assert main(_train_args(prepared, tmp_path / "a", "--gan-mode", "lsgan", variant="unet-l1")) == 2
    assert "--gan-mode" in capsys.readouterr().err
    assert main(_train_args(prepared, tmp_path / "b", variant="unet-l1")) == 0
    assert main(_train_args(prepared, tmp_path / "b", variant="unet-l1")) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(_train_args(prepared, tmp_path / "b", "--resume", "--seed", "5", variant="unet-l1")) == 2
    assert "another configuration" in capsys.readouterr().err


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(prepared, tmp_path, monkeypatch, capsys):
    real_l1 = losses.F.l1_loss
    calls = []

    def l1_turning_nan(a, b):
        calls.append(1)
        return real_l1(a, b) * (float("nan") if len(calls) == 6 else 1.0)

    monkeypatch.setattr(losses.F, "l1_loss", l1_turning_nan)
    out = tmp_path / "run"
    assert main(_train_args(prepared, out, "--checkpoint-every", "4", variant="unet-l1")) == 1
    assert "non-finite loss at step 6" in capsys.readouterr().err
    assert read_checkpoint(out / LATEST)["step"] == 4
    assert read_json(out / "run.json")["status"] == "training"


def _subprocess_env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


@pytest.mark.slow
def test_sigkill_then_resume_reaches_the_same_final_weights(prepared, tmp_path):
    base = [sys.executable, "-m", "p2p_eval", *_train_args(prepared, tmp_path / "killed", epochs=(6, 6)),
            "--checkpoint-every", "2", "--sample-every", "0"]
    straight = [a if a != str(tmp_path / "killed") else str(tmp_path / "straight") for a in base]
    reference_run = subprocess.Popen(straight, cwd=ROOT, env=_subprocess_env(), stderr=subprocess.DEVNULL)
    proc = subprocess.Popen(base, cwd=ROOT, env=_subprocess_env(), stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "killed" / LATEST
    deadline = time.monotonic() + 120
    while not (checkpoint.is_file() and read_checkpoint(checkpoint)["step"] >= 4):
        assert proc.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    killed_at = read_checkpoint(checkpoint)["step"]
    assert 4 <= killed_at < 48
    subprocess.run([*base, "--resume"], cwd=ROOT, env=_subprocess_env(), check=True, stderr=subprocess.DEVNULL,
                   timeout=300)
    assert reference_run.wait(timeout=300) == 0
    resumed, reference = (read_checkpoint(tmp_path / r / LATEST) for r in ("killed", "straight"))
    assert resumed["step"] == reference["step"] == 48
    for name in ("generator", "discriminator"):
        for key, value in reference[name].items():
            torch.testing.assert_close(resumed[name][key], value, rtol=1e-5, atol=1e-6, msg=f"{name}.{key}")
    with (tmp_path / "killed" / "losses.csv").open() as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == list(range(1, 49))


@pytest.mark.slow
@pytest.mark.xdist_group("ddp")
def test_ddp_two_cpu_processes_stay_in_sync(prepared, tmp_path):
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "p2p_eval", *_train_args(prepared, out, "--device", "cpu", epochs=(2, 1))]
    result = subprocess.run(command, cwd=ROOT, env=_subprocess_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    meta = read_json(out / "run.json")
    sync = meta["distributed"]
    assert sync["world_size"] == 2 and sync["backend"] == "gloo" and sync["in_sync"]
    assert sync["checksums"][0] == sync["checksums"][1]
    assert meta["steps"] == 6  # 4 frames / (batch 1 x 2 ranks) = 2 steps per epoch, 3 epochs
    assert len(list((out / "images" / "val").glob("*.png"))) == 3


_DDP_TEARDOWN = """
import gc, sys, torch
from p2p_eval.distributed import setup_distributed, teardown_distributed
gc.disable()  # only the collection teardown makes may free the wrapper: the result must not hang on gc's timing
setup_distributed("cpu")

def train():  # the wrapper dies with the training function's frame, as in trainers.pix2pix.train
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 4))
    model(torch.ones(2, 4)).sum().backward()

train()
teardown_distributed(completed=True)
print(sum(isinstance(o, torch.nn.parallel.DistributedDataParallel) for o in gc.get_objects()))
"""


def test_no_ddp_wrapper_outlives_the_process_group(tmp_path):
    """A DDP wrapper the trainer dropped still held the gloo group after ``destroy_process_group``; freed at the
    interpreter's exit it aborted a rank ("terminate called without an active exception") in 4 of 40 torchrun
    runs of the trainer. Teardown collects it first. One process (world size 1) shows it deterministically."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**_subprocess_env(), "RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(port)}
    done = subprocess.run([sys.executable, "-c", _DDP_TEARDOWN], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0"], "a DDP wrapper was still alive when the process group was destroyed"


def test_worker_processes_do_not_change_the_numbers(prepared, tmp_path):
    logs = []
    for workers in ("0", "2"):
        out = tmp_path / f"w{workers}"
        assert main(_train_args(prepared, out, "--workers", workers, variant="unet-l1", epochs=(1, None))) == 0
        with (out / "losses.csv").open() as f:
            logs.append([r["g_l1"] for r in csv.DictReader(f)])
    assert logs[0] == logs[1] and len(logs[0]) == 4


def test_bf16_autocast_trains(prepared, tmp_path):
    out = tmp_path / "amp"
    assert main(_train_args(prepared, out, "--amp", variant="unet-l1-cgan-pixel", epochs=(1, None))) == 0
    assert read_json(out / "run.json")["config"]["amp"] is True


def test_generators_preset_trains_with_the_papers_batch_size_10(tmp_path, capsys):
    data = make_prepared_dataset(tmp_path / "data", splits={"train": 10, "val": 1})
    small = make_prepared_dataset(tmp_path / "small", splits={"train": 4, "val": 1})
    common = ["--size", "32", "--ngf", "4", "--ndf", "4", "--epochs", "1", "--sample-every", "0"]
    assert main(["train", "--data", str(small), "--preset", "generators", "--out", str(tmp_path / "x"), *common]) == 2
    assert "fewer than one batch of 10" in capsys.readouterr().err
    assert main(["train", "--data", str(data), "--preset", "generators", "--out", str(tmp_path / "runs"), *common]) == 0
    for variant in ("encdec-l1", "encdec-l1-cgan", "unet-l1", "unet-l1-cgan"):
        meta = read_json(tmp_path / "runs" / variant / "run.json")
        assert meta["protocol"]["batch_size"] == 10 and meta["steps"] == 1 and meta["preset"] == "generators"
        assert meta["protocol"]["schedule"] == "torch"


@pytest.mark.parametrize("args, message", [
    (["--decay-epochs", "5"], "--decay-epochs applies to --schedule pytorch"),
    (["--seed", "-1"], "--seed: expected a whole number in [0, 4294967296)"),
    (["--seed", str(2**32)], "--seed: expected a whole number in [0, 4294967296)"),
    (["--batch-size", "0"], "--batch-size: expected a whole number >= 1"),
    (["--epochs", "-1"], "--epochs: expected a whole number >= 0"),
])
def test_bad_training_settings_stop_before_any_work(prepared, tmp_path, capsys, args, message):
    out = tmp_path / "run"
    try:
        code = main(_train_args(prepared, out, *args, variant="unet-l1"))
    except SystemExit as err:  # argparse's own errors
        code = err.code
    assert code == 2 and message in capsys.readouterr().err
    assert not out.exists()

"""`p2p-eval train-segmenter` on the tiny fixture dataset: checkpoint, dataset.json, resume."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from p2p_eval.cli import main
from p2p_eval.data.files import read_label_png, read_rgb
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.segmenters import load_segmenter
from trainers.segmenter import train as train_module

FAST = ["--epochs", "3", "--batch-size", "2", "--workers", "1"]


def _train(prepared, out, *extra):
    return main(["train-segmenter", "--data", str(prepared), "--out", str(out), *FAST, *extra])


def _official_style_scores(segmenter, dataset):
    """The val confusion the pix2pix script's way: resize to label size, segment, fast_hist."""
    hist = np.zeros((19, 19))
    for frame in dataset.frames("val"):
        labels = read_label_png(dataset.path("val", frame, "trainids"))
        photo = Image.fromarray(read_rgb(dataset.path("val", frame, "photo"))).resize(labels.shape[::-1], Image.BILINEAR)
        pred = segmenter.predict(torch.from_numpy(np.array(photo)).permute(2, 0, 1)[None])[0].numpy()
        a, b = labels.flatten(), pred.flatten()
        k = (a >= 0) & (a < 19)
        hist += np.bincount(19 * a[k].astype(int) + b[k], minlength=19**2).reshape(19, 19)
    return hist


def test_trains_scores_writes_and_records(prepared, tmp_path):
    out = tmp_path / "seg.pt"
    assert _train(prepared, out) == 0
    blob = torch.load(out, weights_only=True)
    assert blob["arch"] == "unet-small" and blob["arch_args"] == {}
    assert blob["class_set"] == "cityscapes-19" and blob["output_to_train_id"] == list(range(19))
    assert blob["preprocess"]["channel_order"] == "RGB" and blob["train_size"] == [32, 64]
    trained_on = blob["trained_on"]
    assert trained_on["n_images"] == 4 and trained_on["config"]["epochs"] == 3 and trained_on["config"]["seed"] == 0
    scores = blob["scores"]
    assert scores["split"] == "val" and scores["n_images"] == 3 and len(scores["per_class"]) == 19
    confusion = np.array(scores["confusion"])
    assert confusion.shape == (19, 19) and scores["confusion_other"] == [0] * 19  # 19 outputs: never "other"
    labels = [read_label_png(prepared / "val" / f"{f}_trainids.png") for f in PreparedDataset.load(prepared).frames("val")]
    assert confusion.sum() == sum(int((lab != 255).sum()) for lab in labels)  # every scored pixel counted once
    segmenter = load_segmenter(out)
    hist = _official_style_scores(segmenter, PreparedDataset.load(prepared))
    np.testing.assert_array_equal(confusion, hist)
    assert scores["pixel_acc"] == pytest.approx(np.diag(hist).sum() / hist.sum(), abs=1e-12)
    meta = json.loads((prepared / "dataset.json").read_text())
    assert PreparedDataset.load(prepared).segmenter.resolve() == out.resolve() and meta["segmenter"]
    assert not (tmp_path / "seg.pt.state").exists()


def _interrupted(prepared, out, monkeypatch, *extra):
    """Run train-segmenter, pressing Ctrl-C right after the first epoch's state is on disk."""
    save = train_module._save_state

    def save_then_interrupt(*args):
        save(*args)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "_save_state", save_then_interrupt)
        return _train(prepared, out, *extra)


def test_resume_after_interruption_gives_the_same_weights(prepared, tmp_path, monkeypatch):
    straight = tmp_path / "straight.pt"
    assert _train(prepared, straight, "--crop", "16x32") == 0
    resumed = tmp_path / "resumed.pt"
    assert _interrupted(prepared, resumed, monkeypatch, "--crop", "16x32") == 130
    state = torch.load(tmp_path / "resumed.pt.state", weights_only=True)
    assert state["epochs_done"] == 1 and not resumed.exists()
    assert _train(prepared, resumed, "--crop", "16x32", "--resume") == 0
    a, b = torch.load(straight, weights_only=True), torch.load(resumed, weights_only=True)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name in a["state_dict"]:
        assert torch.equal(a["state_dict"][name], b["state_dict"][name]), name
    assert a["scores"]["confusion"] == b["scores"]["confusion"]


def test_saved_state_is_never_silently_overwritten_or_misapplied(prepared, tmp_path, monkeypatch, capsys):
    out = tmp_path / "seg.pt"
    assert _interrupted(prepared, out, monkeypatch, "--epochs", "2") == 130
    assert _train(prepared, out, "--epochs", "2") == 2
    assert "seg.pt.state: an interrupted training run" in capsys.readouterr().err
    assert _train(prepared, out, "--epochs", "2", "--resume", "--lr", "0.01") == 2
    assert "lr: saved 0.005, now 0.01" in capsys.readouterr().err


def test_bad_arguments_are_named(prepared, tmp_path, capsys):
    assert _train(prepared, tmp_path / "x.pt", "--arch", "segformer") == 2
    assert "--arch 'segformer' is unknown" in capsys.readouterr().err
    assert _train(prepared, tmp_path / "x.pt", "--arch", "unet-small", "--encoder", "resnet18") == 2
    assert "apply to the smp-* architectures" in capsys.readouterr().err
    assert _train(tmp_path / "nothing", tmp_path / "x.pt") == 2
    assert "no dataset.json" in capsys.readouterr().err


def test_smp_arch_with_local_encoder_weights(prepared, tmp_path):
    import segmentation_models_pytorch as smp

    weights = tmp_path / "resnet18-encoder.pt"
    torch.save(smp.Unet(encoder_name="resnet18", encoder_weights=None).encoder.state_dict(), weights)
    out = tmp_path / "smp.pt"
    assert main(["train-segmenter", "--data", str(prepared), "--out", str(out),  # an encoder implies smp-unet
                 "--encoder-weights", str(weights), "--epochs", "1", "--batch-size", "4", "--workers", "1"]) == 0
    weights.unlink()  # the checkpoint must not need the start weights
    segmenter = load_segmenter(out)
    assert segmenter.arch == "smp-unet" and segmenter.arch_args == {"encoder": "resnet18"}
    assert segmenter.meta["trained_on"]["config"]["encoder_weights"] == str(weights)


def test_augment_keeps_labels_and_pixels_together():
    from trainers.segmenter.data import augment

    labels = torch.arange(32, dtype=torch.uint8).repeat(2, 16, 1)  # (2, 16, 32): label = column
    labels[:, :, :4] = 255
    photos = labels[:, None].repeat(1, 3, 1, 1)  # grey level = label, so they must stay aligned
    out = [augment(photos, labels, torch.Generator().manual_seed(7), crop=(8, 16)) for _ in range(2)]
    (p, lab), (p2, lab2) = out
    assert p.shape == (2, 3, 8, 16) and lab.shape == (2, 8, 16) and p.dtype == lab.dtype == torch.uint8
    assert torch.equal(p, p2) and torch.equal(lab, lab2)  # same generator state, same batch
    assert set(lab.unique().tolist()) <= set(labels.unique().tolist())  # nearest: no invented labels
    inner = (lab >= 6) & (lab < 255)  # away from the jump to 255, the grey ramp is linear
    assert inner.sum() > 50 and (p[:, 0].int() - lab.int())[inner].abs().max() <= 1  # pixels follow labels


def test_a_finished_checkpoint_is_replaced_only_with_overwrite(prepared, tmp_path, capsys):
    out = tmp_path / "seg.pt"
    assert _train(prepared, out) == 0
    kept = out.read_bytes()
    recorded = json.loads((prepared / "dataset.json").read_text())["segmenter"]
    assert _train(prepared, out, "--epochs", "1") == 2
    assert "a finished segmenter checkpoint is already there; pass --overwrite" in capsys.readouterr().err
    assert out.read_bytes() == kept and not (tmp_path / "seg.pt.state").exists()  # refused before training
    assert _train(prepared, out, "--epochs", "1", "--resume") == 2  # resuming is no way around it
    capsys.readouterr()
    assert _train(prepared, out, "--epochs", "1", "--overwrite") == 0
    assert torch.load(out, weights_only=True)["trained_on"]["config"]["epochs"] == 1
    assert json.loads((prepared / "dataset.json").read_text())["segmenter"] == recorded


def test_resume_without_a_saved_state_is_an_error(prepared, tmp_path, capsys):
    assert _train(prepared, tmp_path / "seg.pt", "--resume") == 2
    assert "seg.pt.state: no saved training state, so there is nothing to resume" in capsys.readouterr().err
    assert not (tmp_path / "seg.pt").exists()


@pytest.mark.parametrize("value", ["-1", "4294967296", "x"])
def test_seed_outside_the_generators_range_is_refused(prepared, tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        _train(prepared, tmp_path / "seg.pt", "--seed", value)
    assert exit_.value.code == 2 and "--seed: expected a whole number in [0, 4294967296)" in capsys.readouterr().err

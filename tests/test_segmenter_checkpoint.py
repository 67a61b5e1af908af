import pytest
import torch

from p2p_eval.errors import InputError
from p2p_eval.segmenters import Preprocess, Segmenter, build_model, load_segmenter, save_segmenter
from p2p_eval.segmenters.checkpoint import identity_mapping


def test_round_trip_keeps_weights_preprocessing_and_hash(tmp_path):
    torch.manual_seed(0)
    model = build_model("smp-unet", 19, encoder="resnet18")
    seg = Segmenter(model, "smp-unet", {"encoder": "resnet18"}, Preprocess(), identity_mapping(),
                    meta={"train_size": [64, 64]})
    save_segmenter(tmp_path / "seg.pt", seg)
    back = load_segmenter(tmp_path / "seg.pt")
    assert back.sha256 == seg.sha256 and len(back.sha256) == 64
    assert back.meta["train_size"] == [64, 64]
    images = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    seg.model.eval()
    assert torch.equal(back.predict(images), seg.predict(images))
    assert back.predict(images).dtype == torch.uint8


def test_bgr_mean_only_preprocessing_matches_the_caffe_recipe():
    pre = Preprocess(channel_order="BGR", scale=1.0, mean=(72.78044, 83.21195, 73.45286), std=None)
    x = torch.tensor([[[[10]], [[20]], [[30]]]], dtype=torch.uint8)
    assert pre(x).flatten().tolist() == pytest.approx([30 - 72.78044, 20 - 83.21195, 10 - 73.45286])


def test_foreign_file_is_refused(tmp_path):
    torch.save({"state_dict": {}}, tmp_path / "x.pt")
    with pytest.raises(InputError, match="not a p2p-eval segmenter"):
        load_segmenter(tmp_path / "x.pt")

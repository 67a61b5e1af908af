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


def test_an_edited_output_to_train_id_is_named_not_a_size_mismatch(tmp_path):
    # #14.16: a hand-edited mapping built a network of another width; torch raised a RuntimeError.
    save_segmenter(tmp_path / "seg.pt", Segmenter(build_model("unet-small", 19), "unet-small", {}, Preprocess(),
                                                  identity_mapping()))
    blob = torch.load(tmp_path / "seg.pt", weights_only=True)
    for mapping in ([*range(19), 255], list(range(18))):
        torch.save({**blob, "output_to_train_id": mapping}, tmp_path / "edited.pt")
        with pytest.raises(InputError, match=rf"edited.pt: the weights do not fit .* output_to_train_id lists "
                                             rf"{len(mapping)} trainIds, one per output channel"):
            load_segmenter(tmp_path / "edited.pt")
    torch.save({**blob, "output_to_train_id": "road,sky"}, tmp_path / "edited.pt")
    with pytest.raises(InputError, match="edited.pt: a field of the segmenter checkpoint is missing or malformed"):
        load_segmenter(tmp_path / "edited.pt")


@pytest.mark.parametrize("content, what", [
    (b'{"format": "p2p-eval-prepared", "name": "city"}', r"a JSON file \(a prepared dataset's dataset.json\)"),
    (bytes(range(256)) * 4, "a file of 1,024 bytes in no format p2p-eval knows"),
    (b"\x89PNG\r\n\x1a\n" + bytes(64), "a PNG image"),
    (b"", "an empty file"),
], ids=["dataset.json", "random bytes", "png", "empty"])
def test_a_file_that_is_no_checkpoint_is_named_without_unsafe_advice(tmp_path, content, what):
    # #14.17: torch's own message advised retrying with weights_only=False, unsafe for a file from elsewhere.
    (tmp_path / "seg.pt").write_bytes(content)
    with pytest.raises(InputError, match=rf"seg.pt: not a p2p-eval segmenter checkpoint .*: this is {what}.*; train one") as err:
        load_segmenter(tmp_path / "seg.pt")
    assert "weights_only" not in str(err.value)


def test_a_pickled_model_or_a_cut_checkpoint_is_named(tmp_path):
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "model.pt")  # a whole module: pickled code
    with pytest.raises(InputError, match="holds Python objects besides tensors") as err:
        load_segmenter(tmp_path / "model.pt")
    assert "weights_only" not in str(err.value)
    save_segmenter(tmp_path / "seg.pt", Segmenter(build_model("unet-small", 19), "unet-small", {}, Preprocess(),
                                                  identity_mapping()))
    blob = (tmp_path / "seg.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(InputError, match="cut.pt: not a p2p-eval segmenter checkpoint .*damaged or truncated"):
        load_segmenter(tmp_path / "cut.pt")

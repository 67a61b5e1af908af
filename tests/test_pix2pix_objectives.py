"""pix2pix losses, schedule, variants, data pipeline and one training step against a bare reference."""

import contextlib
import math

import numpy as np
import pytest
import torch

from conftest import make_prepared_dataset
from p2p_eval.data.files import write_png
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.errors import InputError
from p2p_eval.paper import PRESETS
from trainers.pix2pix.config import config_for_variant
from trainers.pix2pix.data import EpochSampler, PairedFrames, check_split, jitter_size
from trainers.pix2pix.losses import LossConfig, adversarial_loss, discriminator_loss, generator_loss
from trainers.pix2pix.schedule import ScheduleConfig, lr_factor
from trainers.pix2pix.train import build_state, train_step
from trainers.pix2pix.variants import VARIANTS, get_variant


def test_adversarial_loss_by_hand():
    logits = torch.tensor([2.0, -1.0, 0.0, 0.5]).reshape(1, 1, 2, 2)
    sig = torch.sigmoid(logits)
    assert adversarial_loss(logits, True).item() == pytest.approx(-torch.log(sig).mean().item(), rel=1e-6)
    assert adversarial_loss(logits, False).item() == pytest.approx(-torch.log(1 - sig).mean().item(), rel=1e-6)
    assert adversarial_loss(logits, True, "lsgan").item() == pytest.approx(((logits - 1) ** 2).mean().item())
    assert adversarial_loss(logits, False, "lsgan").item() == pytest.approx((logits**2).mean().item())


def test_discriminator_loss_is_halved_and_generator_loss_weights_l1():
    real, fake = torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    total, terms = discriminator_loss(real, fake, "vanilla")
    assert total.item() == pytest.approx(math.log(2))  # 0.5 * (log 2 + log 2)
    out, target = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5)
    total, terms = generator_loss(LossConfig("l1-cgan"), out, target, torch.zeros(1, 1, 2, 2))
    assert terms["g_l1"].item() == pytest.approx(0.5)
    assert total.item() == pytest.approx(math.log(2) + 100 * 0.5)
    total, terms = generator_loss(LossConfig("l1", l1_weight=10), out, target, None)
    assert set(terms) == {"g_l1"} and total.item() == pytest.approx(5.0)
    total, terms = generator_loss(LossConfig("gan"), out, target, torch.zeros(1, 1, 2, 2))
    assert set(terms) == {"g_gan"}


def _pytorch_epoch_factors(n_epochs: int, n_epochs_decay: int) -> list[float]:
    """PyTorch pix2pix's lr factor per epoch, its steps written out (networks.py get_scheduler @7891385,
    stepped by update_learning_rate() at the end of each epoch in train.py @b621837; epoch_count = 1)."""
    def lambda_rule(epoch):
        return 1.0 - max(0, epoch + 1 + 1 - n_epochs) / float(n_epochs_decay + 1)

    scheduler_epoch, factors = 0, []
    for _epoch in range(1, n_epochs + n_epochs_decay + 1):
        factors.append(lambda_rule(scheduler_epoch))  # LambdaLR: lr = base * lambda(last_epoch)
        scheduler_epoch += 1  # model.update_learning_rate() after the epoch
    return factors


@pytest.mark.parametrize("epochs, decay", [(100, 100), (3, 3), (1, 2), (5, 0)])
def test_pytorch_schedule_is_the_ports_per_epoch_rule(epochs, decay):
    config = ScheduleConfig("pytorch", epochs=epochs, decay_epochs=decay)
    per_epoch = 7
    ours = [lr_factor(step, per_epoch, config) for step in range(per_epoch * config.total_epochs)]
    expected = _pytorch_epoch_factors(epochs, decay)
    assert ours == pytest.approx([f for f in expected for _ in range(per_epoch)], abs=1e-15)
    if (epochs, decay) == (100, 100):  # constant to epoch 99, then 100/101 ... 0/101 in epoch 200
        assert expected[98] == 1.0 and expected[99] == pytest.approx(100 / 101) and expected[-1] == 0.0


def test_torch_schedule_is_constant_and_has_no_decay():
    config = ScheduleConfig()  # the paper's train.lua: niter = 200 at lr 2e-4
    assert (config.kind, config.epochs, config.decay_epochs, config.lr) == ("torch", 200, 0, 2e-4)
    assert {lr_factor(step, 5, config) for step in range(5 * 200)} == {1.0}
    with pytest.raises(ValueError, match="no decay epochs with the Torch schedule"):
        ScheduleConfig("torch", epochs=100, decay_epochs=100)


def test_every_paper_row_is_a_variant_with_the_right_parts():
    for variants in PRESETS.values():
        for name in variants:
            assert name in VARIANTS
    v = get_variant("unet-l1-cgan-pixel")
    assert (v.arch, v.loss, v.receptive_field, v.direction) == ("unet", "l1-cgan", "pixel", "AtoB")
    assert get_variant("photo2labels-cgan").direction == "BtoA"
    assert config_for_variant("unet-gan", size=64).discriminator.conditional is False
    assert config_for_variant("encdec-l1", size=64).discriminator is None
    with pytest.raises(ValueError, match="unet-l1-cgan"):
        get_variant("unet-l2")


def test_jitter_and_mirror_are_deterministic_and_paired(prepared):
    data = PreparedDataset.load(prepared)
    frames = PairedFrames(data, "train", "AtoB", 32, jitter=True, mirror=True, seed=3)
    assert jitter_size(256) == 286 and jitter_size(64) == 72
    a_in, a_out = frames[(5, 1)]
    b_in, b_out = frames[(5, 1)]
    assert a_in.shape == (3, 32, 32) and torch.equal(a_in, b_in) and torch.equal(a_out, b_out)
    assert -1 <= a_in.min() and a_in.max() <= 1
    # Over epochs, both flips occur, applied to input and target together.
    plain = PairedFrames(data, "train", "AtoB", 32, jitter=False, mirror=True, seed=3)
    unflipped_in, unflipped_out = PairedFrames(data, "train", "AtoB", 32)[1]
    flips = []
    for epoch in range(8):
        x, y = plain[(epoch, 1)]
        flipped = torch.equal(x, unflipped_in.flip(-1))
        assert flipped or torch.equal(x, unflipped_in)
        assert torch.equal(y, unflipped_out.flip(-1) if flipped else unflipped_out)
        flips.append(flipped)
    assert any(flips) and not all(flips)


def test_labels_to_photo_reads_color_then_photo(prepared):
    data = PreparedDataset.load(prepared)
    forward, backward = (PairedFrames(data, "val", d, 32)[0] for d in ("AtoB", "BtoA"))
    assert torch.equal(forward[0], backward[1]) and torch.equal(forward[1], backward[0])


def test_epoch_sampler_resumes_mid_epoch_and_shards_ranks():
    full = EpochSampler(10, 2, seed=1)
    stream = [k for _, k in zip(range(30), iter(full))]
    assert sorted(i for e, i in stream[:10]) == list(range(10))  # each epoch is a permutation
    resumed = EpochSampler(10, 2, seed=1, start_step=7)
    assert [k for _, k in zip(range(16), iter(resumed))] == stream[14:30]
    ranks = [[k for _, k in zip(range(4), iter(EpochSampler(9, 2, seed=1, rank=r, world_size=2)))] for r in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1])  # the two ranks see different frames


def test_bad_data_is_caught_before_training(tmp_path):
    root = make_prepared_dataset(tmp_path / "d")
    (root / "train" / "city_000001_000019_photo.png").unlink()
    with pytest.raises(InputError, match="missing"):
        check_split(PreparedDataset.load(root), "train", "AtoB")
    root = make_prepared_dataset(tmp_path / "e")
    write_png(root / "val" / "city_000002_000019_color.png", np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(InputError, match="city_000002_000019_color.png: 16x16"):
        check_split(PreparedDataset.load(root), "val", "AtoB")


def _reference_step(G, D, opt_g, opt_d, x, y):
    """The PyTorch pix2pix optimize_parameters, written out: D on fake then real, halved; G: GAN + 100 L1."""
    bce = torch.nn.BCEWithLogitsLoss()
    fake = G(x)
    opt_d.zero_grad()
    pred_fake = D(torch.cat([x, fake.detach()], 1))
    pred_real = D(torch.cat([x, y], 1))
    loss_d = 0.5 * (bce(pred_fake, torch.zeros_like(pred_fake)) + bce(pred_real, torch.ones_like(pred_real)))
    loss_d.backward()
    opt_d.step()
    for p in D.parameters():
        p.requires_grad_(False)
    opt_g.zero_grad()
    pred = D(torch.cat([x, fake], 1))
    loss_g = bce(pred, torch.ones_like(pred)) + 100 * torch.nn.functional.l1_loss(fake, y)
    loss_g.backward()
    opt_g.step()
    for p in D.parameters():
        p.requires_grad_(True)


def test_train_step_equals_the_reference_step():
    config = config_for_variant("unet-l1-cgan", size=32, ngf=4, ndf=4)
    torch.manual_seed(0)
    ours = build_state(config, 10, torch.device("cpu"))
    torch.manual_seed(0)
    ref = build_state(config, 10, torch.device("cpu"))
    x, y = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    for _ in range(2):
        torch.manual_seed(1)
        train_step(ours, config.loss, x, y, contextlib.nullcontext)
        torch.manual_seed(1)
        _reference_step(ref.generator, ref.discriminator, ref.opt_g, ref.opt_d, x, y)
    for a, b in zip([*ours.generator.parameters(), *ours.discriminator.parameters()],
                    [*ref.generator.parameters(), *ref.discriminator.parameters()]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert ours.opt_g.param_groups[0]["lr"] == 2e-4  # the Torch schedule: constant


def test_settings_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="epochs"):
        ScheduleConfig(epochs=0, decay_epochs=0)
    with pytest.raises(ValueError, match="power of two"):
        config_for_variant("unet-l1", size=48)
    with pytest.raises(ValueError, match="at least 96 px"):
        config_for_variant("unet-l1-cgan-286", size=64)
    assert config_for_variant("unet-l1-cgan-286", size=128).discriminator.receptive_field == "286"


def _tensor2im(input_image: torch.Tensor, imtype=np.uint8) -> np.ndarray:
    """PyTorch pix2pix's util/util.py tensor2im, its steps written out (first image of the batch)."""
    image_numpy = input_image[0].cpu().float().numpy()
    image_numpy = (np.transpose(image_numpy, (1, 2, 0)) + 1) / 2.0 * 255.0
    return image_numpy.astype(imtype)


def test_truncation_is_tensor2im_bit_for_bit_and_round_is_half_a_level_brighter():
    from trainers.pix2pix.data import to_uint8

    torch.manual_seed(0)
    outputs = torch.tanh(torch.randn(1, 3, 64, 64) * 2)  # a generator's last layer
    levels = torch.arange(256).float().div(127.5).sub(1).reshape(1, 1, 16, 16).expand(1, 3, 16, 16)
    for x in (outputs, levels, torch.tensor([-1.0, 1.0, 0.0, -0.0]).reshape(1, 1, 2, 2).expand(1, 3, 2, 2)):
        np.testing.assert_array_equal(to_uint8(x, "truncate")[0], _tensor2im(x))
    difference = to_uint8(outputs, "round").astype(int) - to_uint8(outputs, "truncate")
    assert set(np.unique(difference).tolist()) == {0, 1} and 0.4 < difference.mean() < 0.6
    np.testing.assert_array_equal(to_uint8(levels, "round")[0, ..., 0].ravel(), np.arange(256))
    with pytest.raises(ValueError, match="quantize"):
        to_uint8(outputs, "floor")

"""PSNR and SSIM per frame: hand-computed cases and the stated scikit-image settings."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from p2p_eval.metrics.pixel_similarity import SSIM_SETTINGS, psnr, ssim


def test_psnr_by_hand():
    real = np.full((8, 8, 3), 100, np.uint8)
    generated = real.copy()
    generated[0, 0, 0] = 110  # squared error 100 on one of 192 values
    assert psnr(generated, real) == pytest.approx(10 * np.log10(255**2 / (100 / 192)), rel=1e-12)
    assert psnr(real, real) == float("inf")


def test_ssim_of_constant_images_by_hand():
    # No variance: SSIM = (2 a b + C1) / (a^2 + b^2 + C1) in every window, C1 = (0.01 * 255)^2.
    a, b = 100.0, 140.0
    c1 = (0.01 * 255) ** 2
    got = ssim(np.full((16, 16, 3), b, np.uint8), np.full((16, 16, 3), a, np.uint8))
    assert got == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-9)


def test_ssim_uses_wang_et_al_settings_not_skimage_defaults():
    rng = np.random.default_rng(0)
    ramp = np.add.outer(np.arange(32) * 4, np.arange(40) * 3)[..., None] + np.array([0, 40, 80])
    real = (ramp % 256).astype(np.uint8)  # smooth with edges, like a photo
    generated = np.clip(real.astype(int) + rng.integers(-30, 30, real.shape), 0, 255).astype(np.uint8)
    assert SSIM_SETTINGS == {
        "data_range": 255, "channel_axis": -1, "gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False,
    }  # fmt: skip
    wang = ssim(generated, real)
    per_channel = [
        structural_similarity(real[..., c], generated[..., c], data_range=255, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False)
        for c in range(3)
    ]  # fmt: skip
    assert wang == pytest.approx(np.mean(per_channel), rel=1e-12)
    defaults = structural_similarity(real, generated, data_range=255, channel_axis=-1)
    assert abs(wang - defaults) > 1e-3  # the choice matters: it is stated, not incidental


def test_refuses_mismatched_or_non_rgb_frames():
    a = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match=r"one shape, got \(16, 20, 3\) and \(16, 16, 3\).*does not resize"):
        psnr(np.zeros((16, 20, 3), np.uint8), a)
    with pytest.raises(ValueError, match="`generated` to be an \\(H, W, 3\\) uint8 RGB image, got float64"):
        ssim(a.astype(float), a)
    with pytest.raises(ValueError, match="at least 11x11 pixels"):
        ssim(a[:8], a[:8])

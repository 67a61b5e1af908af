"""PSNR and SSIM of one generated image against its real photo, via scikit-image.

Settings, fixed so that numbers are comparable between runs and with papers
that state them:

- PSNR: ``skimage.metrics.peak_signal_noise_ratio(real, generated,
  data_range=255)``, i.e. ``10 log10(255^2 / MSE)`` with the MSE over all
  pixels and the three RGB channels of the frame; infinite for identical images.
- SSIM: ``skimage.metrics.structural_similarity(real, generated,
  data_range=255, channel_axis=-1, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False)``: the SSIM of Wang et al. (IEEE TIP 2004: an
  11x11 Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03, population
  statistics), the recipe scikit-image's documentation gives "to match the
  implementation of Wang et al."; computed per RGB channel and averaged. It
  differs from scikit-image's defaults (7x7 uniform window, sample covariance),
  which some papers used through ``compare_ssim``: check which a paper used
  before comparing numbers. No automatic downsampling (Wang's ``ssim.m``
  downsamples only images larger than 256 pixels on the short side).

A frame's scores are per-frame states; a run's score is their mean over frames.
"""

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

DATA_RANGE = 255
SSIM_SETTINGS = {
    "data_range": DATA_RANGE,
    "channel_axis": -1,
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
}
SSIM_WINDOW = 11
"""The side of the Gaussian window scikit-image takes for sigma 1.5 (``2 * int(3.5 * sigma + 0.5) + 1``):
the smallest image SSIM reads."""


def _check_pair(generated: np.ndarray, real: np.ndarray) -> None:
    for name, image in (("generated", generated), ("real", real)):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            got = f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray) else type(image)
            raise ValueError(f"Expected `{name}` to be an (H, W, 3) uint8 RGB image, got {got}.")
    if generated.shape != real.shape:
        raise ValueError(
            f"Expected `generated` and `real` of one shape, got {generated.shape} and {real.shape}; "
            "p2p-eval does not resize for PSNR/SSIM."
        )


def psnr(generated: np.ndarray, real: np.ndarray) -> float:
    """Peak signal-to-noise ratio of one frame, in dB.

    Parameters
    ----------
    generated, real : (H, W, 3) uint8 ndarray
        Same shape.

    Returns
    -------
    psnr : float
        ``inf`` when the images are identical.

    Raises
    ------
    ValueError
        If either is not (H, W, 3) uint8 or the shapes differ.

    Examples
    --------
    >>> a = np.zeros((4, 4, 3), np.uint8)
    >>> round(psnr(a + 1, a), 4)  # MSE 1: 20 log10(255)
    48.1308
    """
    _check_pair(generated, real)
    if np.array_equal(generated, real):
        return float("inf")  # skimage would divide by zero and warn
    return float(peak_signal_noise_ratio(real, generated, data_range=DATA_RANGE))


def ssim(generated: np.ndarray, real: np.ndarray) -> float:
    """Structural similarity of one frame (Wang et al.'s settings, mean over RGB).

    Parameters
    ----------
    generated, real : (H, W, 3) uint8 ndarray
        Same shape, at least 11 pixels on each side (the Gaussian window).

    Returns
    -------
    ssim : float
        In [-1, 1]; 1 for identical images.

    Raises
    ------
    ValueError
        If either is not (H, W, 3) uint8, the shapes differ, or a side is
        shorter than the window.

    Examples
    --------
    >>> a = np.full((16, 16, 3), 100, np.uint8)
    >>> ssim(a, a)
    1.0
    """
    _check_pair(generated, real)
    if min(real.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"Expected images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels for SSIM's window, "
                         f"got {real.shape[:2]}.")
    return float(structural_similarity(real, generated, **SSIM_SETTINGS))

"""sRGB to CIE L*a*b* exactly as ``skimage.color.rgb2lab``, vectorised and planar.

The histogram code works on (3, P) planes (one contiguous row per channel), so
every step is one vector operation; `rgb2lab` wraps the same steps for any
array shape. Constants are skimage's (D65 white, 2 degree observer).
"""

import numpy as np

# sRGB primaries to CIE XYZ (D65), as ``skimage.color.colorconv.xyz_from_rgb``
# (IEC 61966-2-1 rounded to 6 digits).
XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
# Reference white of the D65 illuminant, 2 degree observer, as
# ``skimage.color.xyz_tristimulus_values("D65", "2")``.
D65_WHITE = np.array([0.95047, 1.0, 1.08883])
_LAB_THRESHOLD = 0.008856  # CIE (6/29)**3, rounded as skimage rounds it
_LAB_SLOPE = 7.787  # CIE (29/6)**2 / 3, rounded as skimage rounds it


def _srgb_to_linear(values: np.ndarray) -> np.ndarray:
    """Undo the sRGB transfer curve of values in [0, 1] (as skimage's rgb2xyz)."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(values > 0.04045, ((values + 0.055) / 1.055) ** 2.4, values / 12.92)


LINEAR_FROM_UINT8 = _srgb_to_linear(np.arange(256) / 255.0)
_XYZ_OVER_WHITE = XYZ_FROM_RGB / D65_WHITE[:, None]  # rows: X/Xn, Y/Yn, Z/Zn from linear RGB


def rgb2lab(rgb: np.ndarray, *, channel_axis: int = -1) -> np.ndarray:
    """sRGB to CIE L*a*b* (D65, 2 degree observer), vectorised over any batch.

    Parameters
    ----------
    rgb : (..., 3, ...) array_like
        uint8 values in [0, 255] or floats in [0, 1]; any leading shape
        (one image, a batch of images, a list of colours).
    channel_axis : int, optional
        Axis holding R, G, B (default: last).

    Returns
    -------
    lab : (..., 3, ...) float64 ndarray
        L* in [0, 100], a* and b* roughly in [-128, 127], on the same axis.

    Raises
    ------
    ValueError
        If `rgb` lacks size 3 along `channel_axis` (the message gives its shape).

    Notes
    -----
    Same constants and piecewise functions as ``skimage.color.rgb2lab``:
    sRGB transfer curve, the ``xyz_from_rgb`` matrix, white point
    (0.95047, 1, 1.08883), threshold 0.008856 and slope 7.787. 8-bit input is
    linearised by a 256-entry lookup table of exactly those values.

    Examples
    --------
    >>> rgb2lab(np.array([[255, 255, 255], [0, 0, 0]], np.uint8)).round(3).tolist()
    [[100.0, -0.002, 0.005], [0.0, 0.0, 0.0]]
    """
    rgb = np.moveaxis(np.asanyarray(rgb), channel_axis, -1)
    if rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise ValueError(f"Expected size 3 along `channel_axis` ({channel_axis}), got shape {rgb.shape}.")
    linear = LINEAR_FROM_UINT8[rgb] if rgb.dtype == np.uint8 else _srgb_to_linear(rgb)
    return np.moveaxis(_lab_from_linear(linear), -1, channel_axis)


def _lab_from_linear(linear: np.ndarray) -> np.ndarray:
    """(..., 3) linear sRGB -> (..., 3) L*a*b*: the XYZ step and the CIE cube root."""
    planes = lab_from_cube_roots(cube_root_planes(np.moveaxis(linear, -1, 0).reshape(3, -1)))
    return np.moveaxis(planes, 0, -1).reshape(linear.shape)


def cube_root_planes(linear: np.ndarray) -> np.ndarray:
    """(3, P) linear sRGB planes -> (3, P) CIE f(X/Xn), f(Y/Yn), f(Z/Zn).

    Planar layout keeps every step a contiguous vector operation; the
    threshold branch is patched only where it applies (dark pixels), which is
    much faster than ``np.where`` over both branches.
    """
    xyz = _XYZ_OVER_WHITE @ linear  # XYZ relative to the white point
    f = np.cbrt(xyz)
    small = xyz <= _LAB_THRESHOLD
    if small.any():
        f[small] = _LAB_SLOPE * xyz[small] + 16.0 / 116.0
    return f


def lab_from_cube_roots(f: np.ndarray) -> np.ndarray:
    """(3, P) cube-root planes -> (3, P) float64 L*, a*, b* planes (skimage's formulas)."""
    return np.stack([lab_channel(f, channel) for channel in range(3)])


def lab_channel(f: np.ndarray, channel: int) -> np.ndarray:
    """One plane of `lab_from_cube_roots`: L* (0), a* (1) or b* (2), with the same float operations."""
    if channel == 0:
        return 116.0 * f[1] - 16.0
    if channel == 1:
        return 500.0 * (f[0] - f[1])
    return 200.0 * (f[1] - f[2])


# L*, a*, b* as a linear map of the cube-root planes: lab = LAB_FROM_CUBE_ROOTS @ f + LAB_OFFSET.
LAB_FROM_CUBE_ROOTS = np.array([[0.0, 116.0, 0.0], [500.0, -500.0, 0.0], [0.0, 200.0, -200.0]])
LAB_OFFSET = np.array([[-16.0], [0.0], [0.0]])

"""The images of a study: real photos and each algorithm's fakes, keyed by input id.

A key names the input an image was made from (a frame id), so paired trials can
show a real and a fake of the same input and unpaired trials can avoid it.
Plain folders are keyed by file stem with the usual suffixes stripped
(``_fake_B``, ``_real_B``, ``_photo``, ``_leftImg8bit``), so a PyTorch pix2pix
results folder serves as both real (``glob = "*_real_B.png"``) and fake source.
"""

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from p2p_eval.data.matching import match_frames
from p2p_eval.data.prepared import PreparedDataset
from p2p_eval.data.runs import IMAGE_SUFFIXES, discover_runs
from p2p_eval.errors import InputError
from study_app.config import ImageSource, StudyConfig

log = logging.getLogger(__name__)

_KEY_SUFFIXES = ("_fake_B", "_real_B", "_photo", "_leftImg8bit", "_synthesized_image")


@dataclass(frozen=True)
class Stimuli:
    """Resolved image files of a study.

    Attributes
    ----------
    real : dict of str to Path
        Real photos by key.
    fakes : dict of str to (dict of str to Path)
        Per algorithm name, generated images by key.
    """

    real: dict[str, Path]
    fakes: dict[str, dict[str, Path]]


def _key(stem: str) -> str:
    for suffix in _KEY_SUFFIXES:
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def _folder_images(source: ImageSource) -> dict[str, Path]:
    files = sorted(p for p in source.path.glob(source.glob) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    images: dict[str, Path] = {}
    for path in files:
        key = _key(path.stem)
        if key in images:
            raise InputError(
                f"{path}: same input id {key!r} as {images[key].name}; narrow the source with "
                "`glob` (e.g. \"*_fake_B.png\") so each input has one image."
            )
        images[key] = path
    if not images:
        raise InputError(f"{source.path}: no images match {source.glob!r} ({', '.join(IMAGE_SUFFIXES)}).")
    return images


def resolve_images(source: ImageSource, dataset: PreparedDataset | None = None) -> dict[str, Path]:
    """Image files of one source by key.

    A run is matched against `dataset`'s frames of the split when a prepared
    dataset is the real source (every frame must have an image), else it is
    read as it stands.
    """
    if source.kind == "images":
        return _folder_images(source)
    if source.kind == "dataset":
        data = PreparedDataset.load(source.path)
        data.check_files(source.split)
        return {frame: data.path(source.split, frame, "photo") for frame in data.frames(source.split)}
    runs = discover_runs([source.path])
    if len(runs) != 1:
        raise InputError(f"{source.path}: holds {len(runs)} runs {[r.name for r in runs]}; name one run per algorithm.")
    run = runs[0]
    if dataset is not None:
        return dict(match_frames(run, dataset.frames(source.split), source.split, dataset=dataset))
    images = run.images(source.split)
    if not images:
        raise InputError(f"{run.root}: run {run.name!r} has no images for split {source.split!r}.")
    return images


def load_stimuli(config: StudyConfig) -> Stimuli:
    """Resolve every image source of a study and check the pairing is possible.

    Raises
    ------
    InputError
        If a source has no images, a paired study has a fake without the real
        photo of the same input, or a source has too few images for the trials.
    """
    dataset = PreparedDataset.load(config.real.path) if config.real.kind == "dataset" else None
    real = resolve_images(config.real, dataset)
    fakes = {a.name: resolve_images(a.source, dataset) for a in config.algorithms}
    protocol = config.protocol
    if protocol.trial_kind == "single" or protocol.qualification_trials:
        _check_single_image_pools(config, real, fakes)
    if protocol.trial_kind == "single":
        return Stimuli(real=real, fakes=fakes)  # one image per trial: no pairs to check
    needed = protocol.practice_trials + protocol.main_trials + protocol.qualification_trials
    for name, images in fakes.items():
        if protocol.pairing == "paired":
            missing = sorted(set(images) - set(real))
            if missing:
                raise InputError(
                    f"{config.path}: algorithm {name!r} has {len(missing)} image(s) with no real photo of the "
                    f"same input, e.g. {missing[:3]}; add the real photos or use pairing = \"unpaired\"."
                )
        if len(images) < needed:
            raise InputError(
                f"{config.path}: algorithm {name!r} has {len(images)} images, fewer than the "
                f"{needed} {'qualification + ' if protocol.qualification_trials else ''}practice + main trials; add "
                "images or lower the trial counts."
            )
    # Unpaired trials draw distinct reals; vigilance alters a real of another input.
    enough = max(needed if protocol.pairing == "unpaired" else 1, 2 if protocol.vigilance_trials else 1)
    if len(real) < enough:
        raise InputError(
            f"{config.real.path}: {len(real)} real image(s), need at least {enough} for this protocol."
        )
    return Stimuli(real=real, fakes=fakes)


def _check_single_image_pools(config: StudyConfig, real: dict, fakes: dict) -> None:
    """Enough images that no session shows an input twice (`study_app.single.images_needed`)."""
    from study_app.single import images_needed

    reals, fakes_each, trials = images_needed(config.protocol, len(fakes))
    if len(real) < reals:
        raise InputError(f"{config.real.path}: {len(real)} real images, and one session may show {reals}; add "
                         "images or lower the trial counts.")
    for name, images in fakes.items():
        if len(images) < fakes_each or len(set(images) | set(real)) < trials:
            raise InputError(f"{config.path}: algorithm {name!r} has {len(images)} images, and one session may show "
                             f"{fakes_each} of them among {trials} trials, each input at most once; add images or "
                             "lower the trial counts.")


def check_images(stimuli: Stimuli, image_size: int) -> list[str]:
    """Decode every image; return warnings about sizes.

    Raises
    ------
    InputError
        Naming every image that cannot be decoded.
    """
    bad, sizes = [], {}
    paths = list(stimuli.real.values()) + [p for images in stimuli.fakes.values() for p in images.values()]
    for path in tqdm(paths, desc="reading images", unit="img", disable=None, file=sys.stderr):
        try:
            with Image.open(path) as image:
                image.load()
                sizes[path] = image.size
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
            bad.append(f"{path} ({err})")
    if bad:
        raise InputError(f"{len(bad)} image(s) cannot be decoded; re-export them as PNG:\n  " + "\n  ".join(bad[:10]))
    warnings = []
    shapes = sorted({(w / h) for w, h in sizes.values()})
    if len(shapes) > 1:
        warnings.append(f"images have {len(shapes)} aspect ratios {shapes[:4]}; all are shown as {image_size}x{image_size} squares.")
    small = sorted({s for s in sizes.values() if min(s) < image_size})
    if small:
        warnings.append(f"some images are smaller than {image_size} px (e.g. {small[0]}); they are upscaled.")
    return warnings

"""What the session checks before scoring, and what it says about what it scored.

Before any long work: each run's images are of the kind the measure scores
(`check_directions`: photos for FCN-score and colorfulness, label maps for
label-score), and were generated from the dataset they are scored against
(`check_generated_from`: the split's content digest that ``generate``
recorded), and no output option names one of the files scored
(`check_outputs_not_inputs`). After computing: images of another size than the run's usual one
are named (`warn_image_sizes`), for every measure alike.
"""

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from p2p_eval.data.outputs import check_distinct_outputs
from p2p_eval.data.prepared import KINDS, PreparedDataset, split_digest
from p2p_eval.data.runs import Run
from p2p_eval.errors import InputError
from p2p_eval.measures.base import Measure

log = logging.getLogger(__name__)

DIRECTION_NAMES = {"AtoB": "labels->photos", "BtoA": "photo->labels"}
"""run.json's ``direction`` (`trainers.pix2pix.variants.DIRECTIONS`) as the paper names it."""
_PHOTO_TO_LABELS_PREFIX = "photo2labels-"  # `p2p_eval.paper`: the photo->labels variants


def check_outputs_not_inputs(outputs: Sequence[tuple[str | None, str]], dataset: PreparedDataset, split: str,
                             runs: Sequence[Run], images: Sequence[Sequence[Path]]) -> None:
    """Refuse an output option that names a file the session reads: the dataset's or a run's.

    The command's own check (`check_distinct_outputs` on its options) cannot
    see them: the dataset and the images are known only once the runs are
    read. ``--json <data>/dataset.json`` replaced the prepared dataset's
    manifest with the results, exit 0.

    Parameters
    ----------
    outputs : sequence of (path or None, option)
    dataset, split : the prepared dataset and split scored against
    runs : the runs scored
    images : per run, the image files scored
    """
    if not any(path for path, _ in outputs):
        return
    inputs = [(dataset.root / "dataset.json", "the prepared dataset's dataset.json")]
    inputs += [(dataset.path(split, frame, kind), f"a {kind} file of the prepared dataset")
               for frame in dataset.frames(split) for kind in KINDS]
    inputs += [(run.root / "run.json", f"run {run.name!r}'s run.json") for run in runs]
    inputs += [(path, f"an image of run {run.name!r}") for run, paths in zip(runs, images) for path in paths]
    check_distinct_outputs(outputs, inputs)


def run_direction(run: Run) -> str | None:
    """A run's direction: run.json's ``direction``, else its paper variant's; None when unknown."""
    direction = run.meta.get("direction")
    if direction in DIRECTION_NAMES:
        return direction
    variant = run.meta.get("variant") or ""
    return "BtoA" if variant.startswith(_PHOTO_TO_LABELS_PREFIX) else None


def check_directions(kind: str, measure: type[Measure], runs: Sequence[Run]) -> None:
    """Refuse runs whose images the measure would misread (photos as label maps, or the reverse).

    Raises
    ------
    InputError
        Naming the runs, their direction and the measure that scores them.
    """
    from p2p_eval.measures import MEASURES, measure_class

    if measure.run_direction is None:
        return
    wrong = [(run, direction) for run in runs
             if (direction := run_direction(run)) is not None and direction != measure.run_direction]
    if not wrong:
        return
    direction = wrong[0][1]
    others = [k for k in MEASURES if k != kind and measure_class(k).run_direction == direction]
    shown = ", ".join(f"{run.name!r} ({run.root})" for run, _ in wrong[:5])
    raise InputError(
        f"{kind} scores {DIRECTION_NAMES[measure.run_direction]} runs, but {len(wrong)} run(s) are "
        f"{DIRECTION_NAMES[direction]} (direction {direction} in run.json or their variant): {shown}. "
        f"Their images are {'label maps' if direction == 'BtoA' else 'photos'}; score them with "
        + " or ".join(f"`p2p-eval {k} {wrong[0][0].root}`" for k in others)
        + f", and leave them out of this {kind} run.")


def check_generated_from(runs: Sequence[Run], dataset: PreparedDataset, split: str) -> None:
    """Refuse runs whose `split` images were generated from other data than `dataset`'s `split`.

    ``generate`` (and ``train``) record, per split, the dataset the images came
    from and a digest of that split's content (`p2p_eval.data.prepared.split_digest`).
    A run scored against another dataset, or against one that changed since,
    would be scored against labels its images were not made from. Runs that
    record no digest (older runs) get a warning when their run.json names
    another dataset than the one scored.

    Raises
    ------
    InputError
        Naming each such run, where its images came from and the two fixes.
    """
    digest = None
    wrong = []
    for run in runs:
        record = ((run.meta.get("generated") or {}).get(split) or {}).get("dataset")
        if not isinstance(record, dict) or "digest" not in record:
            if run.dataset is not None and run.dataset.resolve() != dataset.root.resolve():
                log.warning("run %r: its run.json names the dataset %s, but it is scored against %s; make sure its "
                            "%s images were generated from this one.", run.name, run.dataset, dataset.root, split)
            continue
        digest = digest or split_digest(dataset, split)
        if record["digest"] != digest:
            wrong.append((run, record))
    if wrong:
        lines = "\n  ".join(
            f"{run.name!r}: generated from {record.get('path')} (digest {record['digest'][:12]})"
            + (", which has changed since" if Path(str(record.get("path"))).resolve() == dataset.root.resolve() else "")
            for run, record in wrong[:5])
        run, record = wrong[0]
        raise InputError(
            f"{len(wrong)} run(s) have {split!r} images generated from other data than {dataset.root}'s {split!r} "
            f"split (digest {digest[:12]}), so they would be scored against labels they were not made from:\n  "
            f"{lines}\nScore them against the dataset they came from (--data {record.get('path')}), or regenerate "
            f"their images from this one: `p2p-eval generate {run.root} --data {dataset.root} --split {split}`.")


def size_counts(sizes: np.ndarray) -> list[tuple[int, int, int]]:
    """(height, width, frames) of each distinct image size, most frequent first.

    Examples
    --------
    >>> size_counts(np.array([[256, 256], [1, 1], [256, 256]]))
    [(256, 256, 2), (1, 1, 1)]
    """
    counts = Counter(map(tuple, np.asarray(sizes).tolist()))
    return [(h, w, n) for (h, w), n in counts.most_common()]


def warn_image_sizes(name: str, sizes: np.ndarray, images: Sequence[Path], expected: tuple[int, int],
                     source: str) -> None:
    """Warn when some images of a row are not of its expected (H, W), aspect ratio called out.

    Parameters
    ----------
    name : str
        The row's name.
    sizes : (N, 2) int array
        (H, W) of each image as read.
    images : sequence of Path
        The image of each frame, for the example named.
    expected : (H, W)
        The run's size from its run.json, else the dataset's image size.
    source : str
        Where `expected` comes from, for the message.
    """
    sizes = np.asarray(sizes)
    off = np.flatnonzero((sizes != np.asarray(expected)).any(axis=1))
    if not off.size:
        return
    aspect = expected[1] / expected[0]
    parts = []
    for h, w, n in size_counts(sizes[off]):
        other = " (another aspect ratio)" if h and abs(w / h - aspect) > 0.01 * aspect else ""
        parts.append(f"{n} x {h}x{w}{other}")
    log.warning("run %r: %d of %d image(s) are not %dx%d (%s): %s, e.g. %s; each measure resizes them as its "
                "protocol says, so check that these are the images you meant to score.", name, off.size,
                len(sizes), expected[0], expected[1], source, ", ".join(parts), images[off[0]])

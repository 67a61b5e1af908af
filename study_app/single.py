"""Single-image trials (the HYPE tasks and the qualification block): which image, real or fake, in which order.

As for two-image trials (`study_app.trials`), *which images* a session shows
follows from the study seed and the session id, and *which trial shows a
real and which a fake* comes from the OS's CSPRNG, stored with the session.

HYPE tells raters the share of real images (50%). Where a phase gives no
feedback (HYPE-inf, the qualification) each phase (and block) holds exactly
that share, shuffled: the rater learns nothing from counting. Where it gives
feedback after every answer (HYPE-time, practice), a rater who counted could
tell the last images of a balanced block without looking; there each trial is
real with that probability, drawn on its own. A HYPE-time staircase tells as
much without feedback: the next trial's exposure (in its schedule, before it
is shown) rises after a wrong answer and not after a right one, so its main
trials are drawn on their own whatever ``feedback`` says (`main_exact`).

An input (key) appears at most once per session, as a real or as a fake image.
Qualification fakes come from every algorithm of the study in turn, as HYPE's
came from several GANs.
"""

import random
import secrets
from collections.abc import Sequence

import numpy as np

from p2p_eval.errors import InputError
from study_app.config import Protocol
from study_app.trials import PlannedTrial, session_rng

_QUALIFICATION_STREAM = "qualification"  # its own seeded stream: adding a qualification changes no other image


class _Pools:
    """Seeded orders of every image pool, taken from in turn; a key once taken is taken for the session."""

    def __init__(self, rng: np.random.Generator, real_keys: Sequence[str], fakes: dict[str, Sequence[str]],
                 used: set[str]):
        self.orders = {("real", None): [str(k) for k in rng.permutation(sorted(real_keys))]}
        self.orders |= {("fake", name): [str(k) for k in rng.permutation(sorted(keys))] for name, keys in fakes.items()}
        self.used = used

    def take(self, image: str, algorithm: str | None) -> str:
        order = self.orders[(image, algorithm if image == "fake" else None)]
        while order:
            key = order.pop(0)
            if key not in self.used:
                self.used.add(key)
                return key
        source = "real images" if image == "real" else f"images of {algorithm!r}"
        raise InputError(f"not enough {source} for one session's trials without showing an input twice; add "
                         "images or lower the trial counts (`p2p-eval study check` counts them).")


def image_classes(n: int, real_percent: int, *, exact: bool, chance: random.Random) -> list[str]:
    """What `n` trials show: exactly `real_percent` real (rounded half up), shuffled; or each real with that
    probability (`exact` False).

    >>> sorted(image_classes(5, 50, exact=True, chance=random.Random(0)))
    ['fake', 'fake', 'real', 'real', 'real']
    """
    if exact:
        n_real = int(n * real_percent / 100 + 0.5)
        classes = ["real"] * n_real + ["fake"] * (n - n_real)
        chance.shuffle(classes)
        return classes
    return ["real" if chance.random() < real_percent / 100 else "fake" for _ in range(n)]


def main_exact(protocol: Protocol) -> bool:
    """Whether each main block holds exactly `real_percent` real images: only where nothing tells a rater
    whether an answer was right (no feedback after every answer, no staircase)."""
    return protocol.feedback != "every" and protocol.task != "hype-time"


def _trial(index: int, phase: str, image: str, key: str, *, source: str | None = None, block: int = 0) -> PlannedTrial:
    return PlannedTrial(index=index, phase=phase, kind="normal", real_key=key if image == "real" else "",
                        fake_key=key if image == "fake" else "", fake_left=False, image=image, source=source,
                        block=block)


def plan_qualification(
    protocol: Protocol, session_id: str, real_keys: Sequence[str], fakes: dict[str, Sequence[str]],
    used: set[str], *, chance: random.Random,
) -> list[PlannedTrial]:
    """The qualification trials (indices from 0): exactly `real_percent` real, the fakes from every algorithm
    in turn; keys in `used` are not shown, and the ones shown are added to it."""
    n = protocol.qualification_trials
    if n == 0:
        return []
    rng = session_rng(protocol.seed, f"{_QUALIFICATION_STREAM}:{session_id}")
    pools = _Pools(rng, real_keys, fakes, used)
    algorithms = [str(a) for a in rng.permutation(sorted(fakes))]
    classes = image_classes(n, protocol.real_percent, exact=True, chance=chance)
    trials, n_fakes = [], 0
    for i, image in enumerate(classes):
        source = None
        if image == "fake":
            source, n_fakes = algorithms[n_fakes % len(algorithms)], n_fakes + 1
        trials.append(_trial(i, "qualification", image, pools.take(image, source), source=source))
    return trials


def plan_single_session(
    protocol: Protocol, session_id: str, real_keys: Sequence[str], algorithm: str, fakes: dict[str, Sequence[str]],
    *, chance: random.Random | None = None,
) -> list[PlannedTrial]:
    """Every trial of a single-image session: qualification, practice, then the main blocks.

    Parameters
    ----------
    protocol : Protocol
    session_id : str
        With ``protocol.seed``, fixes which images the session shows.
    real_keys : sequence of str
    algorithm : str
        The session's algorithm: its fakes are the practice and main trials'.
    fakes : dict of str to sequence of str
        Every algorithm's image keys (the qualification draws from all of them).
    chance : random.Random, optional
        Which trials show a real image; the default, `secrets.SystemRandom`, is unpredictable.

    Returns
    -------
    trials : list of PlannedTrial
        ``qualification_trials + practice_trials + main_trials`` trials, indexed from 0.
    """
    chance = chance or secrets.SystemRandom()
    used: set[str] = set()
    trials = plan_qualification(protocol, session_id, real_keys, fakes, used, chance=chance)
    pools = _Pools(session_rng(protocol.seed, session_id), real_keys, {algorithm: fakes[algorithm]}, used)
    per_block = protocol.main_trials // protocol.blocks
    parts = [("practice", 0, protocol.practice_trials, False)]
    parts += [("main", block, per_block, main_exact(protocol)) for block in range(protocol.blocks)]
    for phase, block, n, exact in parts:
        for image in image_classes(n, protocol.real_percent, exact=exact, chance=chance):
            trials.append(_trial(len(trials), phase, image, pools.take(image, algorithm), block=block))
    return trials


def images_needed(protocol: Protocol, n_algorithms: int) -> tuple[int, int, int]:
    """The most real images, and fakes of one algorithm, one session may show, and its trials in all.

    Exact phases need their share; phases with feedback may, by chance, show only reals or only fakes.
    A qualification's fakes are shared among the algorithms (rounded up).

    Returns
    -------
    reals, fakes_per_algorithm, trials : int
    """
    q = protocol.qualification_trials
    q_real = int(q * protocol.real_percent / 100 + 0.5)
    q_fake_each = -(-(q - q_real) // n_algorithms)
    if protocol.task == "2afc":
        scored = protocol.practice_trials + protocol.main_trials
        return q_real + scored, q_fake_each + scored, q + scored
    main = protocol.main_trials
    exact = main_exact(protocol)
    main_real = int(main / protocol.blocks * protocol.real_percent / 100 + 0.5) * protocol.blocks if exact else main
    main_fake = main - main_real if exact else main
    reals = q_real + protocol.practice_trials + main_real
    fakes = q_fake_each + protocol.practice_trials + main_fake
    return reals, fakes, q + protocol.practice_trials + main

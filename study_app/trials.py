"""The trial plan of a session: which real and fake image, on which side.

Which images a session shows follows from the study seed and the session id,
so it can be rebuilt and audited. Which side is fake, and where the vigilance
trials go, come from the operating system's CSPRNG (`secrets.SystemRandom`):
they are stored with the session and follow from nothing a rater can see or
guess (the seed, the config, the session id in the URL). Practice trials (with
feedback) come first, then the main trials; vigilance trials (an obviously altered
real photo as the "fake": heavily blurred, or with another photo's colours, paired
with its own original) are mixed into the main phase on top of the scored trials.
"""

import hashlib
import random
import secrets
from dataclasses import dataclass

import numpy as np

from study_app.config import Protocol

VIGILANCE_PREFIX = "vigilance:"
"""`fake_key` of a vigilance trial: the altered real photo of that key (`Protocol.vigilance`)."""


@dataclass(frozen=True)
class PlannedTrial:
    """One trial of a session: a two-image trial (the correct side is `fake_left`), or a single-image one
    (`image` says what it shows; its key is `real_key` or `fake_key`, the other empty)."""

    index: int
    phase: str  # qualification | practice | main
    kind: str  # normal | vigilance
    real_key: str
    fake_key: str
    fake_left: bool
    image: str | None = None  # single-image trials: "real" | "fake"
    source: str | None = None  # the fake's algorithm when not the session's (qualification)
    block: int = 0


@dataclass(frozen=True)
class Place:
    """Where a trial stands in its session, for the rater's progress line and the pauses between parts."""

    phase: str
    block: int
    position: int  # 1-based within its phase (and block)
    count: int  # trials in its phase (and block)


def place(protocol: Protocol, index: int) -> Place | None:
    """The phase, block and position of trial `index` (None past the last trial).

    Sessions run qualification, then practice, then main trials (vigilance
    trials included), the main ones in ``protocol.blocks`` equal blocks.

    >>> place(Protocol(practice_trials=2, main_trials=6, blocks=3), 5)
    Place(phase='main', block=1, position=2, count=2)
    """
    for phase, count in (("qualification", protocol.qualification_trials), ("practice", protocol.practice_trials)):
        if index < count:
            return Place(phase, 0, index + 1, count)
        index -= count
    per_block = (protocol.main_trials + protocol.vigilance_trials) // protocol.blocks
    if index >= per_block * protocol.blocks:
        return None
    return Place("main", index // per_block, index % per_block + 1, per_block)


def session_rng(seed: int, session_id: str) -> np.random.Generator:
    """A generator that depends only on the study seed and the session id."""
    digest = hashlib.sha256(f"{seed}:{session_id}".encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def _unpaired_reals(rng: np.random.Generator, fakes: list[str], real_keys: list[str]) -> list[str]:
    """Distinct real keys, none equal to the fake key of its trial, and, where the study has enough, none a key
    the session shows as a fake: otherwise a scene seen as one trial's fake came back as another's real photo
    (or the reverse), and the two could be compared."""
    others = sorted(set(real_keys) - set(fakes))
    if len(others) >= len(fakes):
        return [str(k) for k in rng.choice(others, size=len(fakes), replace=False)]
    reals = list(rng.choice(real_keys, size=len(fakes), replace=False))
    for i in range(len(reals)):
        if reals[i] == fakes[i]:
            # Swap with a partner that keeps both trials unpaired (one exists: len >= 2).
            j = next(j for j in range(len(reals)) if j != i and reals[j] != fakes[i] and reals[i] != fakes[j])
            reals[i], reals[j] = reals[j], reals[i]
    return reals


def plan_session(
    protocol: Protocol, session_id: str, real_keys: list[str], fake_keys: list[str],
    *, chance: random.Random | None = None,
) -> list[PlannedTrial]:
    """Plan every trial of one session.

    Parameters
    ----------
    protocol : Protocol
        Trial counts, pairing and seed.
    session_id : str
        With ``protocol.seed``, fixes which images the session shows.
    real_keys, fake_keys : list of str
        Keys of the real photos and of the session's algorithm's images
        (sorted order does not matter; they are sorted here).
    chance : random.Random, optional
        Draws the fake's side and the vigilance trials' places; the default,
        `secrets.SystemRandom`, is unpredictable. Only tests pass another.

    Returns
    -------
    trials : list of PlannedTrial
        ``practice_trials + main_trials + vigilance_trials`` trials, indexed
        from 0; each fake image appears at most once per session.
    """
    rng = session_rng(protocol.seed, session_id)
    chance = chance or secrets.SystemRandom()
    real_keys, fake_keys = sorted(real_keys), sorted(fake_keys)
    n_scored = protocol.practice_trials + protocol.main_trials
    fakes = list(rng.choice(fake_keys, size=n_scored, replace=False))
    if protocol.pairing == "paired":
        reals = list(fakes)
    else:
        reals = _unpaired_reals(rng, fakes, real_keys)
    kinds = ["normal"] * n_scored
    if protocol.vigilance_trials:
        # Insert vigilance trials at random places of the main phase.
        main = list(zip(fakes[protocol.practice_trials:], reals[protocol.practice_trials:], kinds[protocol.practice_trials:]))
        # Photos the session shows nowhere else: a vigilance trial's real photo, sent again byte for byte in a
        # scored trial, told a script that remembers what it was sent which side of that trial was real.
        unseen = sorted(set(real_keys) - set(fakes) - set(reals))
        pool = unseen if len(unseen) >= 2 else real_keys  # too few photos: the study check warns
        for _ in range(protocol.vigilance_trials):
            real, other = rng.choice(pool, size=2, replace=False)
            # Zhang et al.: "ground truth vs a random-colour baseline", of the same photo when paired.
            altered = real if protocol.vigilance == "random-colour" and protocol.pairing == "paired" else other
            main.insert(chance.randint(0, len(main)), (VIGILANCE_PREFIX + altered, real, "vigilance"))
        head = list(zip(fakes[: protocol.practice_trials], reals[: protocol.practice_trials], kinds[: protocol.practice_trials]))
        fakes, reals, kinds = (list(column) for column in zip(*(head + main)))
    sides = [chance.random() < 0.5 for _ in fakes]
    return [
        PlannedTrial(
            index=i,
            phase="practice" if i < protocol.practice_trials else "main",
            kind=kinds[i],
            real_key=str(reals[i]),
            fake_key=str(fakes[i]),
            fake_left=bool(sides[i]),
        )
        for i in range(len(fakes))
    ]

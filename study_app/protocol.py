"""The trial protocol of a study, as the config file fixes it (`study_app.config` reads it).

Counts and exposure default to the pix2pix paper's (§4.1); a preset
(`study_app.presentation.PRESETS`) sets its protocol's values, each
overridable; every value is recorded in the results (``protocol.settings``).
"""

from dataclasses import dataclass

from study_app.presentation import HYPE_COUNTDOWN, HYPE_COUNTDOWN_MS, HYPE_MASK_MS, HYPE_MASKS, LEAD_MS
from study_app.staircase import HYPE_TIME, Staircase

PAIRINGS = ("paired", "unpaired")
FEEDBACK = ("practice", "every")
"""Correctness feedback after practice trials only, or after every trial (HYPE-time)."""
# Keys that mean something for some tasks only; given for another, they are refused (not ignored).
_TWO_IMAGE_KEYS = ("pairing", "exposure_ms", "presentation", "lead_ms", "gap_ms", "vigilance_trials",
                   "vigilance_max_misses", "exclude_vigilance_failures", "vigilance")
_SINGLE_IMAGE_KEYS = ("real_percent", "feedback")
_STAIRCASE_KEYS = ("blocks", "countdown", "countdown_ms", "masks", "mask_ms", "staircase_start_ms",
                   "staircase_min_ms", "staircase_max_ms", "staircase_up_ms", "staircase_down_ms", "staircase_n_down")
TASK_ONLY = {key: ("2afc",) for key in _TWO_IMAGE_KEYS} | {key: ("hype-inf", "hype-time") for key in _SINGLE_IMAGE_KEYS} \
    | {key: ("hype-time",) for key in _STAIRCASE_KEYS}
"""Config keys that only some tasks have: key -> those tasks."""


@dataclass(frozen=True)
class Protocol:
    """The trial protocol; counts and exposure default to the pix2pix paper's (§4.1).

    A ``preset`` (`study_app.presentation.PRESETS`: ``pix2pix-2017``,
    ``zhang-2016``, ``hype-inf``, ``hype-time``) sets its protocol's values;
    every key given beside it overrides one. Without a preset: a 2AFC trial,
    both images at once after a fixation cross.

    ``task`` decides the trial kind: ``2afc`` (a real and a fake image, pick the
    fake) or one image per trial, real or fake (``hype-inf``: unlimited viewing;
    ``hype-time``: countdown, a staircase exposure, noise masks). The exclusion
    rules (`study_app.rules`) are fixed from these values before data.
    """

    pairing: str = "paired"
    exposure_ms: int = 1000
    presentation: str = "simultaneous"
    lead_ms: int = LEAD_MS["simultaneous"]  # blank (fixation cross if simultaneous) before the first image
    gap_ms: int | None = None  # blank between the images (sequential only)
    feedback_ms: int = 2400  # practice feedback stays this long; 0: until the rater presses Continue
    practice_trials: int = 10
    main_trials: int = 40
    vigilance_trials: int = 0  # extra, obviously fake trials mixed into the main phase
    vigilance_max_misses: int = 0  # a rater missing more is flagged
    exclude_vigilance_failures: bool = True
    raters_per_algorithm: int = 50
    image_size: int = 256
    session_timeout_s: int = 3600  # an idle session past this frees its slot
    seed: int = 0  # which images each session sees; which side is fake comes from the OS's CSPRNG
    exclude_reexposed: bool = True  # trials whose images were sent twice (a reload) leave the results
    exclude_timing_flags: bool = False  # trials flagged off-timing or implausible leave the results
    preset: str | None = None
    task: str = "2afc"
    vigilance: str = "blur"  # what a vigilance trial's fake is (VIGILANCE_KINDS)
    feedback: str = "practice"  # correctness feedback after practice trials only, or after "every" trial
    real_percent: int = 50  # single-image tasks: share of trials showing a real image (told to raters)
    blocks: int = 1  # hype-time: main trials in this many equal blocks, each a fresh staircase
    countdown: int = HYPE_COUNTDOWN  # hype-time: numbers counted down before each image ...
    countdown_ms: int = HYPE_COUNTDOWN_MS  # ... each shown this long
    masks: int = HYPE_MASKS  # hype-time: noise masks after each image ...
    mask_ms: int = HYPE_MASK_MS  # ... each shown this long (rounded to whole frames)
    staircase_start_ms: int = int(HYPE_TIME.start_ms)
    staircase_min_ms: int = int(HYPE_TIME.min_ms)
    staircase_max_ms: int = int(HYPE_TIME.max_ms)
    staircase_up_ms: int = int(HYPE_TIME.up_ms)  # after a wrong answer
    staircase_down_ms: int = int(HYPE_TIME.down_ms)  # after `staircase_n_down` right answers in a row
    staircase_n_down: int = HYPE_TIME.n_down
    qualification_trials: int = 0  # a single-image qualification block before everything else; 0: none
    qualification_min_real: float = 0.65  # pass: at least this share right on the real images ...
    qualification_min_fake: float = 0.65  # ... and on the fake ones
    qualification_pay: bool = True  # a rater who fails is paid (completion code) rather than asked to return
    too_fast_ms: int = 0  # answers sooner than this after the response opened leave the results; 0: off

    @property
    def trial_kind(self) -> str:
        """``2afc`` or ``single`` (one image per trial)."""
        return "2afc" if self.task == "2afc" else "single"

    @property
    def staircase(self) -> Staircase:
        """The hype-time staircase these values make (`study_app.staircase`)."""
        return Staircase(start_ms=self.staircase_start_ms, min_ms=self.staircase_min_ms,
                         max_ms=self.staircase_max_ms, up_ms=self.staircase_up_ms, down_ms=self.staircase_down_ms,
                         n_down=self.staircase_n_down)

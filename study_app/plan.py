"""Planning a study before anyone is paid: interval width, power and cost, by simulation.

Each estimate simulates whole studies (`study_app.simulate`) and analyses
them with the bootstrap the analysis uses: the two-level bootstrap of
`study_app.analysis` for the 2AFC protocols (``p2p_eval.stats.two_level_bootstrap``),
the rater bootstrap of `study_app.hype` for HYPE. All of it is seeded.

Raters differ, and that sets the interval width more than the trial count
does; `DEFAULT_CONCENTRATION` is the between-rater spread the paper's own
"±" values imply (see its docstring), used when neither ``rater_sd`` nor a
pilot study says otherwise.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from p2p_eval.stats import percentile_interval, two_level_bootstrap, two_sided_p
from study_app.comparisons import bootstrap_sd
from study_app.hype import rater_bootstrap
from study_app.simulate import simulate_counts, simulate_hype_time


@dataclass(frozen=True)
class PlanProtocol:
    """What a protocol fixes for planning.

    Attributes
    ----------
    name : str
    design : {"2afc", "hype-inf", "hype-time"}
        Which analysis (and so which bootstrap) the protocol's results get.
    trials : int
        Scored trials per rater (per block for hype-time).
    blocks : int
    raters : int
        Raters per algorithm in the published protocol.
    source : str
    """

    name: str
    design: str
    trials: int
    blocks: int
    raters: int
    source: str


PROTOCOLS = {p.name: p for p in (
    PlanProtocol("pix2pix-2017", "2afc", 40, 1, 50, "Isola et al. 2017 §4.1: 10 practice + 40 scored trials, "
                 "~50 Turkers per algorithm"),
    PlanProtocol("zhang-2016", "2afc", 40, 1, 40, "Zhang et al. 2016: 10 practice + 40 scored pairs (vigilance "
                 "trials not scored), 40 participants per algorithm"),
    PlanProtocol("hype-inf", "hype-inf", 100, 1, 30, "Zhou et al. 2019: 100 images (50 real, 50 fake), "
                 "30 evaluators per model"),
    PlanProtocol("hype-time", "hype-time", 150, 3, 30, "Zhou et al. 2019: 3 blocks x 150 images on the "
                 "staircase, 30 evaluators per model"),
)}

DEFAULT_CONCENTRATION = 6.0
"""Between-rater spread of fool (error) rates, as a Beta concentration kappa:
a rater's own rate has SD ``sqrt(m * (1 - m) / (kappa + 1))`` around the mean m.
6 is the median of the kappas that the paper's seven "±" values (Tables 4-5,
read as the two-level bootstrap SD at 50 raters x 40 trials) imply; they range
from 4.7 to 118. Homogeneous raters (kappa infinite) would make the paper's
18.9% ± 2.5% a ± 1.2%."""
DEFAULT_TIME_SD_MS = 50.0
"""Between-rater SD of HYPE-time thresholds: an assumption (HYPE publishes none); measure it in a pilot."""
DEFAULT_SLOPE = 3.0
"""Weibull slope of simulated HYPE-time raters' psychometric functions (an assumption)."""


def default_rater_sd(mean: float) -> float:
    """Between-rater SD of a rate with this mean under `DEFAULT_CONCENTRATION`."""
    return float(np.sqrt(mean * (1 - mean) / (DEFAULT_CONCENTRATION + 1)))


@dataclass(frozen=True)
class Raters:
    """How simulated raters of one algorithm answer.

    Attributes
    ----------
    mean : float
        Expected fool / error rate (fraction), or HYPE-time (ms).
    rater_sd : float
        Between-rater SD of the rater's own rate (or threshold, ms).
    slope : float
        HYPE-time only: psychometric slope.
    frame_ms : float or None
        HYPE-time only: display frame period for frame rounding.
    """

    mean: float
    rater_sd: float
    slope: float = DEFAULT_SLOPE
    frame_ms: float | None = None


@dataclass(frozen=True)
class Estimate:
    """Averages over simulated studies at one number of raters."""

    n_raters: int
    half_width: float  # mean half width of the 95% percentile interval
    bootstrap_sd: float  # mean bootstrap SD (the "±")
    correct_per_rater: float  # mean right answers per rater (for pay per correct answer)


def simulated_replicates(
    protocol: PlanProtocol, raters: Raters, n_raters: int, *, trials: int, n_studies: int, n_resamples: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Simulate studies of one algorithm and bootstrap each as the analysis would.

    Returns
    -------
    points : (n_studies,) ndarray
        Each study's score.
    replicates : (n_studies, n_resamples) ndarray
        Its bootstrap replicates (study s seeded ``seed + s``).
    correct_per_rater : float
    """
    rng = np.random.default_rng(seed)
    points, replicates = np.empty(n_studies), np.empty((n_studies, n_resamples))
    if protocol.design == "hype-time":
        scores, _, correct = simulate_hype_time(
            rng, raters.mean, raters.rater_sd, n_raters=n_raters, n_studies=n_studies, n_blocks=protocol.blocks,
            n_trials=trials, slope=raters.slope, frame_ms=raters.frame_ms)
        for s in range(n_studies):
            state = np.stack([scores[s], np.ones(n_raters)], axis=1)
            points[s] = scores[s].mean()
            replicates[s] = rater_bootstrap(state, "hype-time", n_resamples=n_resamples, seed=seed + s)["hype_time_ms"]
        return points, replicates, float(correct.mean())
    wrong = simulate_counts(rng, raters.mean, raters.rater_sd, n_raters=n_raters, n_trials=trials, n_studies=n_studies)
    for s in range(n_studies):
        points[s] = wrong[s].sum() / (n_raters * trials)
        if protocol.design == "2afc":
            replicates[s] = two_level_bootstrap(wrong[s], np.full(n_raters, trials), n_resamples=n_resamples,
                                                seed=seed + s)
        else:  # hype-inf: the errors, all counted as on fakes (the score pools fakes and reals)
            state = np.stack([wrong[s], np.full(n_raters, trials), np.zeros(n_raters), np.zeros(n_raters)], axis=1)
            replicates[s] = rater_bootstrap(state, "hype-inf", n_resamples=n_resamples, seed=seed + s)["hype_inf"]
    return points, replicates, float(trials - wrong.mean())


def estimate(
    protocol: PlanProtocol, raters: Raters, n_raters: int, *, trials: int, n_studies: int = 200,
    n_resamples: int = 2000, seed: int = 0,
) -> Estimate:
    """Expected interval half width, bootstrap SD and right answers at `n_raters` raters."""
    _, replicates, correct = simulated_replicates(protocol, raters, n_raters, trials=trials, n_studies=n_studies,
                                                  n_resamples=n_resamples, seed=seed)
    bounds = np.array([percentile_interval(r) for r in replicates])
    return Estimate(n_raters, float(np.mean(bounds[:, 1] - bounds[:, 0]) / 2),
                    float(np.mean([bootstrap_sd(r) for r in replicates])), correct)


def power(
    protocol: PlanProtocol, raters_a: Raters, raters_b: Raters, n_raters: int, *, trials: int, alpha: float = 0.05,
    n_studies: int = 200, n_resamples: int = 2000, seed: int = 0,
) -> float:
    """Share of simulated study pairs in which the bootstrap test finds the two algorithms differ (p < `alpha`)."""
    _, boot_a, _ = simulated_replicates(protocol, raters_a, n_raters, trials=trials, n_studies=n_studies,
                                        n_resamples=n_resamples, seed=seed)
    _, boot_b, _ = simulated_replicates(protocol, raters_b, n_raters, trials=trials, n_studies=n_studies,
                                        n_resamples=n_resamples, seed=seed + n_studies)
    return float(np.mean([two_sided_p(a - b) < alpha for a, b in zip(boot_a, boot_b)]))


def fewest_raters(meets: Callable[[int], bool], grid: Sequence[int] = (), *, most: int = 2000) -> int:
    """The fewest raters (>= 2) for which `meets` holds, assuming it holds from some point on.

    Parameters
    ----------
    meets : callable
        Raters per algorithm -> whether the target is met (memoise it: it is
        called on `grid` and then on the points of a bisection).
    grid : sequence of int, optional
        Raters already evaluated (or cheap to), to bracket the answer.
    most : int, optional

    Raises
    ------
    ValueError
        If it does not hold even at `most` raters.
    """
    verdicts = {n: meets(n) for n in sorted(set(grid)) if 2 <= n <= most}
    low = max([1] + [n for n, ok in verdicts.items() if not ok])
    high = min([n for n, ok in verdicts.items() if ok and n > low], default=None)
    while high is None:
        candidate = min(most, max(2, low * 2))
        if meets(candidate):
            high = candidate
        elif candidate == most:
            raise ValueError(f"Expected a target reachable with at most {most} raters per algorithm; it is not.")
        else:
            low = candidate
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if meets(middle) else (middle, high)
    return high


@dataclass(frozen=True)
class Pay:
    """What one session costs.

    Attributes
    ----------
    per_session : float
        Base pay per rater session.
    per_correct : float
        Bonus per right answer (HYPE: $0.02).
    fee : float
        Platform fee as a fraction of pay (e.g. 0.2 for MTurk's 20%).
    """

    per_session: float
    per_correct: float = 0.0
    fee: float = 0.0

    def session_cost(self, correct_per_rater: float) -> float:
        """Pay and fee for one session with this many right answers expected."""
        return (self.per_session + self.per_correct * correct_per_rater) * (1 + self.fee)


PILOT_DESIGNS = {"study": "2afc", "hype-inf": "hype-inf", "hype-time": "hype-time"}
"""The design each results kind can be a pilot for."""


def pilot_raters(document: dict, *, slope: float = DEFAULT_SLOPE, frame_ms: float | None = None,
                 seed: int = 0) -> list[tuple[str, Raters]]:
    """Each algorithm's simulated raters, as a pilot study's results document measured them.

    The mean is the pilot's score. The between-rater SD is the observed SD of
    per-rater scores less what the pilot's own trials add: binomial noise for
    rates (``s**2 = tau**2 + (m * (1 - m) - tau**2) / n`` solved for tau),
    the staircase's own scatter for HYPE-time (simulated at the pilot's mean).

    Raises
    ------
    ValueError
        If a run has no score or fewer than two raters (no SD to read).
    """
    kind = document["kind"]
    found = []
    for run in document["runs"]:
        n_raters = run.get("n_raters") or 0
        if kind == "study":
            mean, observed_se = run.get("fool_rate"), run.get("se_over_raters")
            observed = None if observed_se is None else observed_se * np.sqrt(n_raters)
        else:
            mean, observed = run.get("hype_time_ms" if kind == "hype-time" else "hype_inf"), run.get("rater_sd")
        if mean is None or observed is None or n_raters < 2:
            raise ValueError(f"Expected pilot run {run.get('name')!r} to have a score and at least 2 raters, got "
                             f"score {mean} from {n_raters} rater(s).")
        if kind == "hype-time":
            scores, _, _ = simulate_hype_time(np.random.default_rng(seed), mean, 0.0, n_raters=500, n_studies=1,
                                              slope=slope, frame_ms=frame_ms)
            spread = np.sqrt(max(0.0, observed**2 - float(np.var(scores))))
            found.append((run["name"], Raters(mean, float(spread), slope, frame_ms)))
            continue
        n = run["n_trials"] / n_raters
        spread_sq = (observed**2 - mean * (1 - mean) / n) / (1 - 1 / n) if n > 1 else 0.0
        spread = float(np.sqrt(np.clip(spread_sq, 0.0, 0.999 * mean * (1 - mean))))
        found.append((run["name"], Raters(mean, spread)))
    return found

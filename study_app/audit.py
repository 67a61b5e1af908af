"""Trial integrity: how each trial was seen, as far as the server can tell, and which trials count.

The page measures what it painted; the server keeps its own view of the same
trial (when it sent the stimulus, when the answer arrived, how often the
stimulus was sent) and stores three flags with every answer:

``reexposed``
    The stimulus was sent more than once: the rater reloaded mid-trial and saw
    the images again. Left out of the results unless ``exclude_reexposed = false``.
``off_timing``
    An exposure was painted more than one display frame off its target
    (``|painted - requested| > 1.5`` frames: the nearest whole number of frames
    is not the target's; a frame as long as the page says, but at most the
    longest the site accepts, 50 ms). Reported; left out with ``exclude_timing_flags = true``.
``implausible``
    The page's account of the trial (stimulus load, every painted step, reaction
    time) and the server's (stimulus sent -> answer received) differ by more than
    `plausible_gap_ms`: the page claims more time than passed, or time passed that
    it does not account for (a longer look reported as a short one). Reported;
    left out with ``exclude_timing_flags = true``.

How far the two timelines of an honest page differ is set by its network, so
the allowed gap is measured per trial, not fixed. The page starts its load
clock as it asks for the stimulus, before that request travels up (``u1``);
the server starts its clock when the request arrives, and stops it when the
answer arrives, after that request travelled up (``u2``). So an honest gap is
``u2 - u1``: two up-link latencies of the same page, about zero on a steady
link however slow, and at most a few round trips where one request opens a new
connection (TCP and TLS handshakes) or waits in the server's queue. The server
sees one round trip of its own per trial: from sending the trial (whose
stimulus URL carries the time, signed) to receiving the stimulus request
(`round_trip_ms`, stored as ``trials.request_ms``). The allowed gap is
`GAP_MARGIN_MS` plus `GAP_ROUND_TRIPS` of it (`plausible_gap_ms`). A page on a
fast link that logs a 900 ms longer look as its exposure is flagged (a fixed
1 s allowed that); one on a slow link is not. A page that lies about its load
or reaction time too, or delays its stimulus request to widen its allowance,
is a page script that can show the pixels as long as it likes: no server-side
timing check sees it (README, the open findings).

An answer that arrives sooner after the stimulus was sent than the schedule
lasts (less `MIN_SLACK_MS`), or whose stimulus was never sent, is refused
outright: nobody could have seen the images.

A step shown until the answer (unlimited viewing) has no target: it is never
off timing, and its painted time (the viewing time) is the reaction time, so
the timeline counts it once. Noise masks are timed steps like the images.

`trial_exclusions` names the trial-level exclusion rules (`study_app.rules`)
that remove an answered trial: ``reexposed``, ``timing``, ``too_fast``. The
``too_fast`` rule reads the reaction time as the page reports it, but never
longer than the server saw pass after the stimulus was sent, less the timed
steps (`response_ms`): a script that answers a few ms after the stimulus
arrives cannot claim a human reaction time within the allowed gap.
"""

import hashlib
import hmac
import json
from collections import defaultdict
from typing import Any

from sqlalchemy import Engine, select

from study_app import db
from study_app.adaptive import FRAME_MS_RANGE
from study_app.approved import ApprovedRaters
from study_app.config import Protocol
from study_app.presentation import is_mask, schedule_ms

FLAGS = ("reexposed", "off_timing", "implausible")
MIN_SLACK_MS = 50.0
"""How much sooner than its schedule an answer may arrive after its stimulus was sent.

The page ends each step at the display frame nearest its target, so a whole
schedule can come out up to half a frame short; 50 ms covers that at 20 Hz."""
GAP_MARGIN_MS = 300.0
"""The gap an honest page shows on a fast link: the wait for the first frame
(up to two at 20 Hz), a busy main thread before the answer is sent, the server
reading the session before it stamps the answer."""
GAP_ROUND_TRIPS = 3.0
"""Round trips of the trial's own link allowed on top of `GAP_MARGIN_MS`: the
answer may open a new connection (TCP, then TLS 1.2: three round trips) where
the stimulus request did not."""
OFF_TARGET_FRAMES = 1.5


def sent_stamp(key: str, token: str, at: float) -> str:
    """The signed time a trial leaves the server, for its stimulus URL (``<ms>-<signature>``).

    Signed with the app's secret key over the stimulus token, so a page cannot
    backdate it to widen its allowed gap (`round_trip_ms`).
    """
    ms = str(round(at * 1000))
    return f"{ms}-{_sign(key, token, ms)}"


def round_trip_ms(key: str, token: str, stamp: str, at: float) -> float | None:
    """Trial sent -> stimulus request received at `at` (s), from the `sent_stamp`; None if missing or forged.

    Examples
    --------
    >>> round_trip_ms("key", "token", sent_stamp("key", "token", 100.0), 100.25)
    250.0
    >>> round_trip_ms("key", "token", "99000-0123456789abcdef", 100.25) is None  # backdated, signature wrong
    True
    """
    ms, _, signature = stamp.partition("-")
    if not ms.isdigit() or not hmac.compare_digest(signature, _sign(key, token, ms)):
        return None
    return max(at * 1000 - int(ms), 0.0)


def _sign(key: str, token: str, ms: str) -> str:
    return hmac.new(key.encode(), f"{token}.{ms}".encode(), hashlib.sha256).hexdigest()[:16]


def plausible_gap_ms(request_ms: float | None) -> float:
    """The most the page's and the server's timelines of a trial may differ, given its observed round trip.

    No round trip (a forged stamp, or a trial sent before the server measured
    them) allows the margin alone.

    Examples
    --------
    >>> plausible_gap_ms(20.0), plausible_gap_ms(600.0), plausible_gap_ms(None)
    (360.0, 2100.0, 300.0)
    """
    return GAP_MARGIN_MS + GAP_ROUND_TRIPS * (request_ms or 0.0)


def too_soon(server_ms: float, steps: list[dict[str, Any]]) -> bool:
    """Whether an answer `server_ms` after its stimulus was sent is sooner than anyone could see it."""
    return server_ms < schedule_ms(steps) - MIN_SLACK_MS


def exposure(steps: list[dict[str, Any]], painted_ms: list[float], frame_ms: float) -> tuple[float, int]:
    """The trial's exposure farthest off target: its painted ms and its length in frames.

    Parameters
    ----------
    steps : list of dict
        The stored schedule (``{"ms", "show", "cue"}`` per step).
    painted_ms : list of float
        Painted duration of each step, as the page measured it.
    frame_ms : float
        The display's frame interval.

    Examples
    --------
    >>> steps = [{"ms": 500, "show": []}, {"ms": 1000, "show": ["left"]}, {"ms": 1000, "show": ["right"]}]
    >>> exposure(steps, [510.0, 1000.0, 966.7], 16.7)
    (966.7, 58)
    """
    shown = [(abs(painted - step["ms"]) if step["ms"] is not None else 0.0, painted)
             for step, painted in zip(steps, painted_ms) if any(not is_mask(slot) for slot in step["show"])]
    painted = max(shown)[1]
    return painted, round(painted / frame_ms)


def mask_frames(steps: list[dict[str, Any]], painted_ms: list[float], frame_ms: float) -> list[int]:
    """Display frames each noise mask was painted for (empty when the schedule has none)."""
    return [round(painted / frame_ms) for step, painted in zip(steps, painted_ms)
            if any(is_mask(slot) for slot in step["show"])]


def trial_flags(
    steps: list[dict[str, Any]], *, painted_ms: list[float], frame_ms: float, load_ms: float,
    reaction_ms: float, server_ms: float, request_ms: float | None, views: int,
) -> dict[str, bool]:
    """The three flags of one answered trial (see the module docstring).

    `request_ms` is the trial's observed round trip (`round_trip_ms`), which
    sets the allowed gap between the two timelines (`plausible_gap_ms`).

    Examples
    --------
    >>> steps = [{"ms": 500, "show": []}, {"ms": 1000, "show": ["left", "right"]}]
    >>> trial_flags(steps, painted_ms=[500.0, 1000.0], frame_ms=16.7, load_ms=40.0, reaction_ms=700.0,
    ...             server_ms=2250.0, request_ms=20.0, views=1)
    {'reexposed': False, 'off_timing': False, 'implausible': False}
    >>> trial_flags(steps, painted_ms=[500.0, 1000.0], frame_ms=16.7, load_ms=40.0, reaction_ms=700.0,
    ...             server_ms=3140.0, request_ms=20.0, views=2)  # a reload, and 900 ms the page does not account for
    {'reexposed': True, 'off_timing': False, 'implausible': True}
    >>> trial_flags(steps, painted_ms=[500.0, 1000.0], frame_ms=16.7, load_ms=1240.0, reaction_ms=700.0,
    ...             server_ms=4640.0, request_ms=1200.0, views=1)  # a slow link: the answer opened a new connection
    {'reexposed': False, 'off_timing': False, 'implausible': False}
    """
    # The page reports its frame period with every answer; no display slower than the site can time has one
    # longer (a page claiming 1000 ms frames had 1.5 s of tolerance: a 1 s longer look, honestly logged, passed).
    frame_ms = min(frame_ms, FRAME_MS_RANGE[1])
    off = any(abs(painted - step["ms"]) > OFF_TARGET_FRAMES * frame_ms
              for step, painted in zip(steps, painted_ms) if step["show"] and step["ms"] is not None)
    accounted = load_ms + sum(painted for step, painted in zip(steps, painted_ms) if step["ms"] is not None) + reaction_ms
    return {"reexposed": views > 1, "off_timing": off,
            "implausible": abs(server_ms - accounted) > plausible_gap_ms(request_ms)}


def response_ms(row: dict[str, Any]) -> float:
    """How long the response was open before the answer: the page's reaction time, at most what the server saw.

    The server saw ``server_ms`` pass between sending the stimulus and receiving
    the answer; the schedule's timed steps (``schedule``, the stored JSON) came
    first, so no longer a response can have been open. Unlimited viewing has no
    timed step: its response opens as the image arrives.

    Examples
    --------
    >>> steps = json.dumps([{"ms": 500, "show": []}, {"ms": 1000, "show": ["left", "right"]}])
    >>> response_ms({"reaction_ms": 900.0, "server_ms": 1520.0, "schedule": steps})  # claims 900, had 20
    20.0
    >>> response_ms({"reaction_ms": 600.0, "server_ms": 2200.0, "schedule": steps})
    600.0
    """
    return min(row["reaction_ms"], row["server_ms"] - schedule_ms(json.loads(row["schedule"])))


def trial_exclusions(row: dict[str, Any], protocol: Protocol) -> tuple[str, ...]:
    """The trial-level exclusion rules the config applies that remove this answered trial (empty: kept).

    Examples
    --------
    >>> row = {"reexposed": True, "off_timing": False, "implausible": True, "reaction_ms": 90.0, "server_ms": 900.0,
    ...        "schedule": '[{"ms": null, "show": ["image"]}]'}
    >>> trial_exclusions(row, Protocol(exclude_timing_flags=True, too_fast_ms=150))
    ('reexposed', 'timing', 'too_fast')
    """
    rules = (("reexposed", protocol.exclude_reexposed and row["reexposed"]),
             ("timing", protocol.exclude_timing_flags and (row["off_timing"] or row["implausible"])),
             ("too_fast", protocol.too_fast_ms > 0 and response_ms(row) < protocol.too_fast_ms))
    return tuple(name for name, applies in rules if applies)


def excluded(row: dict[str, Any], protocol: Protocol) -> bool:
    """Whether the config leaves this answered trial out of the results."""
    return bool(trial_exclusions(row, protocol))


def kept_rows(rows: list[dict[str, Any]], protocol: Protocol) -> list[dict[str, Any]]:
    """The answered trials the results are computed from: `rows` less the excluded ones.

    Parameters
    ----------
    rows : list of dict
        Answered trials with the answer columns (``study_app.analysis.answered_trials``).
    protocol : Protocol
        Its ``exclude_reexposed`` and ``exclude_timing_flags`` switches.
    """
    return [row for row in rows if not excluded(row, protocol)]


def flag_counts(engine: Engine, protocol: Protocol, names: tuple[str, ...],
                raters: ApprovedRaters | None = None) -> dict[str, dict[str, int]]:
    """Per algorithm, main trials of completed sessions (of `raters` when given): how many carry each flag, and how
    many are excluded."""
    a, t, s = db.answers, db.trials, db.sessions
    query = (
        select(s.c.algorithm, s.c.rater_id, a.c.reexposed, a.c.off_timing, a.c.implausible, a.c.reaction_ms, a.c.server_ms,
               t.c.schedule)
        .join(t, (t.c.session_id == a.c.session_id) & (t.c.idx == a.c.idx))
        .join(s, s.c.id == a.c.session_id)
        .where((t.c.phase == "main") & (s.c.status == "complete"))
    )
    counts: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FLAGS + ("excluded", "trials"), 0))
    with engine.connect() as conn:
        for row in conn.execute(query):
            if raters is not None and not raters.keeps(row.rater_id):
                continue
            entry = counts[row.algorithm]
            entry["trials"] += 1
            for flag in FLAGS:
                entry[flag] += bool(getattr(row, flag))
            entry["excluded"] += excluded(row._mapping, protocol)
    return {name: counts[name] for name in names}

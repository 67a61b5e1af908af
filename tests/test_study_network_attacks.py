"""Leak 2 for single-image trials (HYPE-inf): nothing of the network layer tells a real image from a fake.

The 2AFC test (test_study_network.py) shows no byte count, header or time predicts the fake's
*side*; a single-image trial has no side to hide behind: any difference between the response
for a real and for a fake image would tell the answer. Blurred fakes (smoother) and
colour-shifted fakes are served by the real waitress server to a scripted rater recording
everything it can observe; over 480 trials no observable predicts "real" better than chance
(AUC within [0.4, 0.6]), while the same pixels as per-image PNGs did (AUC >= 0.9).
"""

from pathlib import Path

import numpy as np
import pytest

from study_app import db
from study_helpers import ADMIN_TOKEN
from test_study_network import (SESSIONS_PER_ALGORITHM, _auc, _observe_sessions, _png_size, _write_study,
                                assert_nothing_observable_predicts, stored_per_trial)

MAIN_TRIALS = 20  # x 2 x SESSIONS_PER_ALGORITHM = 480 trials: a null AUC has SD 0.026, the 0.6 bound is 3.8 SD away

pytestmark = pytest.mark.slow


def _hype_study(root: Path) -> Path:
    """The network test's photos and fakes, as a HYPE-inf study."""
    path = _write_study(root)
    text = path.read_text()
    protocol = text[text.index("[protocol]"):text.index("[real]")]
    path.write_text(text.replace(protocol, f'[protocol]\npreset = "hype-inf"\nmain_trials = {MAIN_TRIALS}\n'
                                           f"raters_per_algorithm = {SESSIONS_PER_ALGORITHM}\nimage_size = 64\n\n"))
    assert ADMIN_TOKEN in path.read_text()
    return path


def test_no_network_observable_tells_a_single_image_real_or_fake(tmp_path: Path):
    config = _hype_study(tmp_path)
    observed = _observe_sessions(config, "real")
    real = stored_per_trial(config, observed, db.trials.c.image) == "real"
    assert len(observed) == 2 * SESSIONS_PER_ALGORITHM * MAIN_TRIALS and real.mean() == 0.5
    assert_nothing_observable_predicts(observed, real, 64 * 64 * 3)
    # The test has teeth: the same pixels as per-image PNGs (the old delivery) tell real from fake.
    algorithm = stored_per_trial(config, observed, db.sessions.c.algorithm)
    png = np.array([_png_size(np.frombuffer(body, np.uint8).reshape(64, 64, 3)) for *_, body in observed])
    for name in ("blur", "shift"):  # a blurred fake was the smaller PNG, a colour-shifted one the larger
        mine = algorithm == name
        auc = _auc(png[mine], real[mine])
        assert max(auc, 1 - auc) >= 0.9, (name, auc)

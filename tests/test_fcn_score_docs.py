"""The docstring examples of the scoring modules run and hold."""

import doctest

import pytest

from p2p_eval.scoring import loader, report


@pytest.mark.parametrize("module", [loader, report], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0

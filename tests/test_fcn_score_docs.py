"""The docstring examples of the scoring session's modules run and hold."""

import doctest

import pytest

from p2p_eval.session import loader, table


@pytest.mark.parametrize("module", [loader, table], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0

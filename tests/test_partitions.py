"""The key rule for dataset versions: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$` and no `..`, refused with a reason."""

import pytest

from mlops_assets.infra.version_keys import version_key_problem
from mlops_assets.wiring.partitions import version_partitions
from tests.conftest import DATASET


def test_partitions_definition_is_named_after_the_dataset():
    assert version_partitions(DATASET).name == f"{DATASET.name}_versions" == DATASET.partitions_name


@pytest.mark.parametrize(
    "key",
    ["2011-01", "v1.2_a", "a" * 64, "A", "7", "2011-12", "v2.0-rc_1", "a.b", "a-", "a_"],
    ids=["month", "dotted", "64-chars", "one-letter", "one-digit", "december", "mixed", "inner-dot", "dash", "us"],
)
def test_valid_keys_are_accepted(key):
    assert version_key_problem(key) is None


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("../x", "'..'"),
        ("a/b", "'/'"),
        ("", "empty"),
        ("a" * 65, "65 characters"),
        ("a\nb", r"'\n'"),
        ("abc\n", r"'\n'"),  # a trailing newline slips through `$` in a re.match pattern
        ("...", "'..'"),
        ("..", "'..'"),
        (".", "start with a letter or a digit"),
        ("-dash", "start with a letter or a digit"),
        (".hidden", "start with a letter or a digit"),
        ("_under", "start with a letter or a digit"),
        ("a..b", "'..'"),
        ("bad name", "' '"),
        ("a\\b", "'\\\\'"),
        ("café", "'é'"),
        ("2011-01\x00", "'\\x00'"),
    ],
    ids=[
        "parent",
        "slash",
        "empty",
        "65-chars",
        "inner-newline",
        "trailing-newline",
        "dots-3",
        "dots-2",
        "dot",
        "leading-dash",
        "leading-dot",
        "leading-underscore",
        "inner-dotdot",
        "space",
        "backslash",
        "non-ascii",
        "nul",
    ],
)
def test_bad_keys_are_refused_with_a_reason(key, reason):
    problem = version_key_problem(key)
    assert problem is not None, f"{key!r} was accepted"
    assert reason in problem


def test_length_limit_is_counted_in_characters():
    assert version_key_problem("a" * 64) is None
    problem = version_key_problem("a" * 100_000)
    assert problem is not None
    assert "100000 characters" in problem

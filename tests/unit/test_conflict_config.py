"""The `conflict:` key of a pair: the four policies load, mistakes name file:line, two-way needs a home."""

import pytest

from otter_core.config import load_config_text
from otter_core.errors import ConfigError
from otter_core.model import ConflictPolicy
from tests.unit.test_config import EXAMPLE, TWO_WAY

ONE_WAY = EXAMPLE.replace(
    "- {source: shop.orders, target: shop.orders}",
    "- {source: shop.orders, target: shop.orders, conflict: POLICY}",
)
TWO = TWO_WAY.replace("pairs: [shop.orders]", "pairs: [{source: shop.orders, conflict: POLICY}]")


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "p.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    "text, policy",
    [
        ("source_wins", ConflictPolicy("source_wins")),
        ("manual", ConflictPolicy("manual")),
        ("newer_wins(updated_at)", ConflictPolicy("newer_wins", "updated_at")),
        ("'newer_wins( version )'", ConflictPolicy("newer_wins", "version")),
    ],
)
def test_policies_load_onto_the_pair(text, policy):
    pipeline = load_config_text(ONE_WAY.replace("POLICY", text)).channels[0].pipelines[0]
    assert pipeline.pairs[0].conflict == policy and pipeline.pairs[1].conflict is None
    assert pipeline.detects_conflicts and str(policy) == text.strip("'").replace("( ", "(").replace(" )", ")")


def test_no_policy_means_no_detection():
    assert not load_config_text(EXAMPLE).channels[0].pipelines[0].detects_conflicts


def test_unknown_policy_names_file_line_and_the_choices():
    message = error_of(ONE_WAY.replace("POLICY", "newest_wins"))
    assert message.startswith("p.yaml:12: channels[0].pipelines[0].pairs[0].conflict: unknown policy")
    assert "home_wins, newer_wins(COLUMN), source_wins or manual" in message


def test_newer_wins_without_a_column_says_which_column_is_missing():
    assert "newer_wins(updated_at)" in error_of(ONE_WAY.replace("POLICY", "newer_wins"))


def test_home_wins_needs_a_two_way_channel_with_a_home():
    assert "home_wins needs a two-way channel" in error_of(ONE_WAY.replace("POLICY", "home_wins"))
    assert "home_wins needs a two-way channel" in error_of(
        TWO.replace("POLICY", "home_wins").replace("HOME", "")
    )
    home = load_config_text(TWO.replace("POLICY", "home_wins").replace("HOME", "home: true"))
    assert home.channels[0].pipelines[1].pairs[0].conflict == ConflictPolicy("home_wins")


@pytest.mark.parametrize("policy", ["source_wins", "newer_wins(v)"])
def test_automatic_policies_in_two_way_need_a_home(policy):
    message = error_of(TWO.replace("POLICY", policy).replace("HOME", ""))
    assert message.startswith("p.yaml:") and "needs `home: true` on one pipeline" in message
    assert load_config_text(TWO.replace("POLICY", policy).replace("HOME", "home: true"))


def test_manual_in_two_way_needs_no_home():
    assert (
        load_config_text(TWO.replace("POLICY", "manual").replace("HOME", ""))
        .channels[0]
        .pipelines[1]
        .detects_conflicts
    )


def test_remedy_delay_threshold_is_an_integer_parameter():
    text = EXAMPLE.replace("sync_mode: field", "sync_mode: field, remedy_delay_threshold: 5")
    assert load_config_text(text).channels[0].pipelines[0].parameters.remedy_delay_threshold == 5
    assert "expected an integer" in error_of(
        EXAMPLE.replace("sync_mode: field", "remedy_delay_threshold: soon")
    )


def test_conflict_detection_needs_a_mysql_target():
    text = ONE_WAY.replace("POLICY", "source_wins").replace("dst: {type: mysql", "dst: {type: postgresql")
    assert "built for mysql/mariadb targets, and dst is postgresql" in error_of(text)

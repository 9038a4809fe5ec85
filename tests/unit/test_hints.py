"""Event hints are one str enum (otter_core.model.Hint) whose members are the strings hints always were."""

import json
import pickle

from otter_core.model import Hint


def test_a_hint_is_its_string_in_sets_text_json_and_pickles():
    hint = Hint.REMEDY
    assert "loopback-remedy" in frozenset({hint}) and hint in frozenset({"loopback-remedy"})
    assert str(hint) == f"{hint}" == "loopback-remedy" and type(str(hint)) is str
    assert json.dumps(sorted({hint, "x"})) == '["loopback-remedy", "x"]'
    assert pickle.loads(pickle.dumps(frozenset({hint}))) == {"loopback-remedy"}


def test_prefix_hints_carry_a_value():
    hints = frozenset({Hint.RENAMED_FROM.of("shop.b"), Hint.RENAMED_FROM.of("shop.a"), Hint.SNAPSHOT})
    assert Hint.RENAMED_FROM.values_in(hints) == ["shop.a", "shop.b"]
    assert Hint.SELECT_REJECTED.of("bad row") == "select-rejected:bad row"


def test_every_hint_string_is_distinct():
    assert len({hint.value for hint in Hint}) == len(Hint)

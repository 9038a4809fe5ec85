"""Unit tests of the mask processor: the masking functions, options, and what it does to events."""

import pytest

from otter_core.spi import (
    ConfigError,
    DataMedia,
    DataMediaPair,
    EventData,
    EventType,
    PipelinePlugins,
    load_config_text,
)
from otter_mask import MaskProcessor, mask_digits, mask_email, processor_from_options
from otter_mask.processor import otter_event_processor


def event(kind=EventType.INSERT, **columns):
    values = {"name": "Ann", "email": "ann@example.com", "phone": "+86 138-0013-8000"}
    values.update(columns)
    return EventData(
        "crm",
        "customer",
        kind,
        keys={"id": 1},
        columns=values,
        updated=frozenset(values) if kind is EventType.UPDATE else frozenset(),
    )


@pytest.mark.parametrize(
    "value, masked",
    [
        ("alice@example.com", "a***@example.com"),
        ("a@b.c", "a***@b.c"),
        ("@example.com", "***@example.com"),
        ("first.last+tag@mail.example.org", "f***@mail.example.org"),
        ("not an email", "***"),
        ("", "***"),
    ],
)
def test_mask_email(value, masked):
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    "value, keep, masked",
    [
        ("13800138000", 4, "*******8000"),
        ("+86 138-0013-8000", 4, "+** ***-****-8000"),
        ("(555) 010-9999", 4, "(***) ***-9999"),
        ("1234", 4, "****"),  # no more digits than kept: nothing is revealed
        ("12345", 4, "*2345"),
        ("ext. 42", 0, "ext. **"),
        ("no digits", 4, "no digits"),
    ],
)
def test_mask_digits_keeps_the_last_digits_and_the_separators(value, keep, masked):
    assert mask_digits(value, keep) == masked


def test_default_columns_are_email_and_phone():
    out = processor_from_options({}).process(event())
    assert out.columns == {"name": "Ann", "email": "a***@example.com", "phone": "+** ***-****-8000"}


def test_list_of_columns_picks_the_method_by_column_name():
    processor = processor_from_options({"columns": ["contact_mail", "mobile"]})
    assert processor.methods == {"contact_mail": "email", "mobile": "digits"}


def test_mapping_chooses_the_method_per_column():
    processor = processor_from_options({"columns": {"email": "hide", "phone": "null", "name": "email"}})
    out = processor.process(event())
    assert out.columns == {"name": "***", "email": "***", "phone": None}


def test_keep_last_and_mask_char_options():
    out = processor_from_options({"columns": ["phone"], "keep_last": 2, "mask_char": "#"}).process(event())
    assert out.columns["phone"] == "+## ###-####-##00" and out.columns["email"] == "ann@example.com"


def test_column_names_match_case_insensitively_and_keep_their_spelling():
    out = processor_from_options({"columns": ["EMAIL"]}).process(event())
    assert out.columns["email"] == "a***@example.com"


def test_null_bytes_and_numbers():
    processor = processor_from_options({"columns": ["email", "phone", "code"]})
    out = processor.process(event(email=None, phone=b"0571-8888-1234", code=123456789))
    assert out.columns["email"] is None
    assert out.columns["phone"] == "****-****-1234"
    assert out.columns["code"] == "*****6789"


def test_update_and_delete_are_masked_and_the_rest_of_the_event_is_kept():
    for kind in (EventType.UPDATE, EventType.DELETE):
        original = event(kind)
        out = processor_from_options({}).process(original)
        assert out.columns["email"] == "a***@example.com"
        assert (out.schema, out.table, out.event_type, out.keys, out.updated) == (
            original.schema,
            original.table,
            kind,
            original.keys,
            original.updated,
        )


def test_an_event_without_masked_columns_is_returned_as_is():
    original = EventData("crm", "note", EventType.INSERT, keys={"id": 1}, columns={"body": "x"})
    assert processor_from_options({}).process(original) is original


def test_masking_a_key_column_is_refused():
    processor = processor_from_options({"columns": ["email"]})
    keyed = EventData("crm", "login", EventType.INSERT, keys={"email": "a@b.c"}, columns={"n": 1})
    with pytest.raises(ValueError, match="primary key of crm.login"):
        processor.process(keyed)


def test_masking_is_deterministic():
    processor = processor_from_options({})
    assert processor.process(event()) == processor.process(event())


@pytest.mark.parametrize(
    "options, message",
    [
        ({"colums": ["email"]}, "unknown option.*colums"),
        ({"columns": []}, "non-empty list"),
        ({"columns": {"email": "scramble"}}, "unknown method"),
        ({"keep_last": -1}, "keep_last"),
        ({"mask_char": "**"}, "mask_char"),
    ],
)
def test_bad_options_are_config_errors(options, message):
    with pytest.raises(ConfigError, match=message):
        processor_from_options(options)


def test_hook_answers_only_to_its_name():
    pair = DataMediaPair(DataMedia("crm", "customer"), DataMedia("crm", "customer"))
    assert isinstance(otter_event_processor(name="mask", options={}, pair=pair), MaskProcessor)
    assert otter_event_processor(name="other", options={}, pair=pair) is None


def test_installed_entry_point_gets_the_pairs_processor_options():
    config = load_config_text("""
sources: {src: {type: mysql}, dst: {type: mysql}}
channels:
  - name: c
    pipelines:
      - name: p
        source: src
        target: dst
        pairs:
          - {source: crm.customer, processors: [mask], processor_options: {mask: {columns: [phone], keep_last: 3}}}
""")
    pipeline = config.channels[0].pipelines[0]
    [processor] = PipelinePlugins(pipeline).event_processors(pipeline.pairs[0])
    assert isinstance(processor, MaskProcessor)
    assert processor.methods == {"phone": "digits"} and processor.keep_last == 3

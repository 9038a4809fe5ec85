"""The pipeline YAML: the documented shape loads; each mistake names file:line and the key."""

from pathlib import Path

import pytest

from otter_core.config import load_config_file, load_config_text
from otter_core.errors import ConfigError
from otter_core.model import PipelineParameters, StartKind, SyncMode

EXAMPLE = """\
sources:
  src: {type: mysql, host: 127.0.0.1, port: 3307, user: otter, password: otter}
  dst: {type: mysql, host: 127.0.0.1, port: 3308, user: otter, password: otter}
channels:
  - name: shop
    pipelines:
      - name: src-to-dst
        source: src
        target: dst
        start: current
        pairs:
          - {source: shop.orders, target: shop.orders}
          - {source: "shop.*", target: "shop.*"}
        parameters: {parallelism: 5, batch_size: 8000, batch_timeout_ms: 500, load_pool_size: 4, sync_mode: field}
"""


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, "p.yaml")
    return str(info.value)


def test_example_loads_into_the_model():
    config = load_config_text(EXAMPLE)
    pipeline = config.channels[0].pipelines[0]
    assert pipeline.parameters.batch_size == 8000 and pipeline.parameters.sync_mode is SyncMode.FIELD
    assert pipeline.start == {"kind": StartKind.CURRENT}
    assert config.sources["src"].port == 3307


def test_password_is_not_in_repr():
    assert "otter'" not in repr(load_config_text(EXAMPLE).sources["src"]).replace("user='otter'", "")


def test_misspelled_parameter_names_line_and_suggests():
    message = error_of(EXAMPLE.replace("batch_size: 8000", "bach_size: 8000"))
    assert message.startswith("p.yaml:14:") and "bach_size" in message and "batch_size" in message


def test_unknown_source_in_pipeline_is_named():
    message = error_of(EXAMPLE.replace("target: dst", "target: dts"))
    assert "p.yaml:9:" in message and "'dts'" in message


def test_invalid_yaml_names_line_and_column():
    assert error_of(EXAMPLE.replace("{parallelism", "[parallelism")).startswith("p.yaml:14:")


def test_wrong_type_names_the_key():
    message = error_of(EXAMPLE.replace("batch_size: 8000", "batch_size: lots"))
    assert "parameters.batch_size" in message and "integer" in message


def test_start_position_and_gtid_forms():
    by_pos = load_config_text(EXAMPLE.replace("start: current", "start: {file: mysql-bin.000002, pos: 120}"))
    assert by_pos.channels[0].pipelines[0].start == {
        "kind": StartKind.POSITION,
        "file": "mysql-bin.000002",
        "pos": 120,
    }
    by_gtid = load_config_text(EXAMPLE.replace("start: current", 'start: {gtid: "0-1-100"}'))
    assert by_gtid.channels[0].pipelines[0].start == {"kind": StartKind.GTID, "gtid": "0-1-100"}


def test_bad_start_is_explained():
    assert "start" in error_of(EXAMPLE.replace("start: current", "start: yesterday"))


def test_duplicate_key_is_an_error():
    assert "appears twice" in error_of(
        EXAMPLE.replace("        start: current\n", "        start: current\n        start: current\n")
    )


def test_password_env_reads_the_environment(monkeypatch):
    monkeypatch.setenv("OTTER_TEST_PW", "s3cret")
    text = EXAMPLE.replace("password: otter}", "password_env: OTTER_TEST_PW}", 1)
    assert load_config_text(text).sources["src"].password == "s3cret"
    monkeypatch.delenv("OTTER_TEST_PW")
    assert "OTTER_TEST_PW" in error_of(text)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config_file(tmp_path / "nope.yaml")


def test_exact_pair_wins_over_pattern_pair():
    pipeline = (
        load_config_text(EXAMPLE.replace("target: shop.orders}", "target: archive.orders}"))
        .channels[0]
        .pipelines[0]
    )
    [pair] = pipeline.pair_for("shop", "orders")
    assert pair.target_name("shop", "orders") == ("archive", "orders")
    [pattern] = pipeline.pair_for("shop", "customers")
    assert pattern.target_name("shop", "customers") == ("shop", "customers")


def test_processor_options_reach_the_pair():
    text = EXAMPLE.replace(
        "- {source: shop.orders, target: shop.orders}",
        "- {source: shop.orders, processors: [mask], processor_options: {mask: {columns: [email]}}}",
    )
    [pair, _] = load_config_text(text).channels[0].pipelines[0].pairs
    assert pair.processors == ("mask",) and pair.processor_options == {"mask": {"columns": ["email"]}}


def test_options_for_an_unlisted_processor_are_an_error():
    text = EXAMPLE.replace(
        "- {source: shop.orders, target: shop.orders}",
        "- {source: shop.orders, processor_options: {mask: {columns: [email]}}}",
    )
    assert "mask" in error_of(text) and "processor_options" in error_of(text)


def test_bad_filter_is_refused_at_load_time():
    text = EXAMPLE.replace(
        "- {source: shop.orders, target: shop.orders}", "- {source: shop.orders, filter: \"open('x')\"}"
    )
    message = error_of(text)
    assert message.startswith("p.yaml:12:") and "not allowed" in message


def test_column_mapping_forms():
    text = EXAMPLE.replace(
        "- {source: shop.orders, target: shop.orders}",
        "- {source: shop.orders, columns: {id: id, name: [name, display_name], price: {name: price_text, type: varchar}}}",
    )
    [pair, _] = load_config_text(text).channels[0].pipelines[0].pairs
    assert [(c.source, c.target, c.type) for c in pair.column_pairs] == [
        ("id", "id", None),
        ("name", "name", None),
        ("name", "display_name", None),
        ("price", "price_text", "varchar"),
    ]


def test_pipeline_exclude_patterns_take_tables_out_of_every_pair():
    text = EXAMPLE.replace(
        "        start: current\n", '        start: current\n        exclude: [shop.tmp_*, "shop./.*_bak/"]\n'
    )
    pipeline = load_config_text(text).channels[0].pipelines[0]
    assert pipeline.pair_for("shop", "tmp_1") == [] and pipeline.pair_for("shop", "orders_bak") == []
    assert pipeline.pair_for("shop", "customers")


TWO_WAY = (
    EXAMPLE
    + """\
      - name: dst-to-src
        source: dst
        target: src
        HOME
        pairs: [shop.orders]
"""
)


def test_two_way_channel_marks_loopback_and_knows_its_channel():
    one_way = load_config_text(EXAMPLE).channels[0].pipelines[0]
    assert one_way.channel == "shop" and not one_way.two_way and not one_way.marks_loopback
    forward, back = load_config_text(TWO_WAY.replace("HOME", "home: true")).channels[0].pipelines
    assert forward.marks_loopback and back.marks_loopback and back.home and not forward.home
    assert (
        load_config_text(EXAMPLE.replace("sync_mode: field", "sync_mode: field, loopback_mark: true"))
        .channels[0]
        .pipelines[0]
        .marks_loopback
    )


def test_home_needs_a_two_way_channel_and_a_boolean():
    assert "home: true goes on exactly one pipeline" in error_of(
        EXAMPLE.replace("        start: current", "        home: true\n        start: current")
    )
    assert "expected true or false" in error_of(TWO_WAY.replace("HOME", "home: yes please"))


def test_binlog_reader_reaches_the_parameters_and_a_typo_is_named():
    default = load_config_text(EXAMPLE).channels[0].pipelines[0].parameters
    assert default.binlog_reader == "native"
    text = EXAMPLE.replace("sync_mode: field}", "sync_mode: field, binlog_reader: library}")
    assert load_config_text(text).channels[0].pipelines[0].parameters.binlog_reader == "library"
    message = error_of(
        EXAMPLE.replace("sync_mode: field}", "sync_mode: field, binlog_reader: mysql-replication}")
    )
    assert "parameters.binlog_reader" in message and "expected native or library" in message


DOCUMENTED_KNOBS = ("parallelism", "batch_size", "batch_bytes", "batch_timeout_ms", "load_pool_size")


def test_omitted_parameters_take_the_catch_up_defaults():
    """batch_size 8000: a catch-up's loads carry twice the rows per statement and commit of 4000,
    which cut the target's CPU per OLTP transaction by a quarter (docs/performance.md, issue 21)."""
    text = EXAMPLE.replace(
        "        parameters: {parallelism: 5, batch_size: 8000, batch_timeout_ms: 500, load_pool_size: 4, "
        "sync_mode: field}\n",
        "",
    )
    parameters = load_config_text(text).channels[0].pipelines[0].parameters
    assert "parameters" not in text
    assert (parameters.batch_size, parameters.batch_bytes, parameters.parallelism) == (
        8000,
        8 * 1024 * 1024,
        5,
    )


def test_documented_defaults_are_the_code_defaults():
    """docs/configuration.md's parameter table says what a pipeline gets when it sets nothing."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    defaults = PipelineParameters()
    for knob in DOCUMENTED_KNOBS:
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{knob}` |"))
        assert row.split("|")[2].strip() == f"`{getattr(defaults, knob)}`", row


def test_select_process_unset_runs_children_except_in_a_run_that_ends_with_its_load():
    """Not set: child processes (``in_child_process``), but ``bounded_copy`` (``otter-run load
    --exit-when-done``) runs in the runner's process; a value the YAML sets is kept either way."""
    unset = load_config_text(EXAMPLE).channels[0].pipelines[0].parameters
    assert unset.select_process is None and unset.in_child_process
    assert unset.bounded_copy().select_process is False and not unset.bounded_copy().in_child_process
    for value in ("true", "false"):
        text = EXAMPLE.replace("sync_mode: field}", f"sync_mode: field, select_process: {value}}}")
        given = load_config_text(text).channels[0].pipelines[0].parameters
        assert given.select_process is (value == "true") and given.bounded_copy() is given
    message = error_of(EXAMPLE.replace("sync_mode: field}", "sync_mode: field, select_process: 1}"))
    assert "parameters.select_process" in message and "expected true or false, got 1" in message


def test_bounded_copy_changes_only_the_pipelines_being_loaded():
    from otter_core.cli_load import bounded_copy

    config = load_config_text(EXAMPLE)
    copied = bounded_copy(config, {"shop/src-to-dst"})
    assert copied.channels[0].pipelines[0].parameters.select_process is False
    assert copied.channels[0].pipelines[0].pairs == config.channels[0].pipelines[0].pairs
    assert bounded_copy(config, {"shop/elsewhere"}) == config  # a pipeline not loaded keeps its children

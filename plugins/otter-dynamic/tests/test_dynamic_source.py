"""Validating and compiling dynamic source text: problems come back with their line numbers."""

import pytest

from otter_core.spi import EventData, EventType
from otter_dynamic import InvalidSource, compile_hook, validate
from otter_dynamic.plugin import CompiledVersion, HookFailed


def test_a_valid_processor_has_no_problems():
    assert validate("import attrs\n\ndef process(event):\n    return event\n") == []


def test_a_syntax_error_names_its_line_and_column():
    [problem] = validate("def process(event):\n    x = (1,\n    return event\n")
    assert problem.line == 2 and problem.column >= 1 and "syntax error" in problem.message


def test_an_indentation_error_names_its_line():
    [problem] = validate("def process(event):\nreturn event\n")
    assert problem.line == 2 and "indented block" in problem.message


def test_a_source_without_the_hook_says_what_to_define():
    [problem] = validate("def handle(event):\n    return event\n")
    assert problem.line == 0 and "def process(event)" in problem.message


def test_a_file_resolver_must_define_resolve():
    assert validate("def resolve(event):\n    return []\n", kind="file_resolver") == []
    [problem] = validate("def process(event):\n    return event\n", kind="file_resolver")
    assert "def resolve(event)" in problem.message


def test_a_hook_with_two_required_arguments_is_refused_at_its_line():
    [problem] = validate("x = 1\n\ndef process(event, other):\n    return event\n")
    assert problem.line == 3 and "exactly one argument" in problem.message


def test_an_async_hook_is_refused():
    [problem] = validate("async def process(event):\n    return event\n")
    assert problem.line == 1 and "not async" in problem.message


def test_an_empty_source_and_an_unknown_kind_are_refused():
    assert "empty" in validate("   \n")[0].message
    assert "unknown kind" in validate("def process(e): return e", kind="selector")[0].message


def test_validate_does_not_run_the_module_body(tmp_path):
    marker = tmp_path / "ran"
    source = f"open({str(marker)!r}, 'w').write('x')\n\ndef process(event):\n    return event\n"
    assert validate(source) == []
    assert not marker.exists()


def test_compile_runs_the_body_with_options_and_returns_the_hook():
    source = "RATE = options['rate']\n\ndef process(event):\n    return (event, RATE, VERSION)\n"
    hook = compile_hook(source, "processor", "fx", 3, {"rate": 7})
    assert hook("e") == ("e", 7, 3)


def test_a_module_body_that_raises_names_its_line():
    source = "import os\n\nVALUE = 1 / 0\n\ndef process(event):\n    return event\n"
    with pytest.raises(InvalidSource) as info:
        compile_hook(source, "processor", "fx", 2)
    [problem] = info.value.problems
    assert problem.line == 3 and "ZeroDivisionError" in problem.message
    assert "'fx'" in str(info.value) and "line 3" in str(info.value)


def test_a_failure_inside_the_hook_names_name_version_and_line():
    source = "def process(event):\n    total = 0\n    return event.columns['missing']\n"
    version = CompiledVersion("fx", 4, compile_hook(source, "processor", "fx", 4))
    event = EventData("shop", "orders", EventType.INSERT, {"id": 1}, {"amount": 2})
    with pytest.raises(HookFailed, match=r"dynamic 'fx' v4 at line 3: KeyError\('missing'\)"):
        version.process(event)

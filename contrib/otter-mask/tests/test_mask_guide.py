"""docs/processor-guide.md stays true: every YAML example loads (and builds its processors), the code and
setup.cfg it shows are the package's, its test examples are real tests, and its pipeline runs end to end."""

import ast
import re
import types
from pathlib import Path

import pytest
import yaml

from otter_core.spi import EventData, EventType, PipelinePlugins, load_config_text
from otter_core.testing.harness import running, wait_caught_up
from otter_mask import processor_from_options

PACKAGE = Path(__file__).resolve().parents[1]
GUIDE = PACKAGE.parents[1] / "docs" / "processor-guide.md"
SKELETON = """
sources: {src: {type: mysql}, dst: {type: mysql}}
channels:
  - name: guide
    pipelines:
      - name: p
        source: src
        target: dst
"""


def blocks(language, path=GUIDE):
    return [
        body
        for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", path.read_text(), re.MULTILINE | re.DOTALL)
        if lang == language
    ]


def as_config_text(block):
    """A complete YAML file as is; ``pairs: [...]`` or a bare list of pairs inside a one-pipeline skeleton."""
    doc = yaml.safe_load(block)
    if isinstance(doc, dict) and "sources" in doc:
        return block
    if isinstance(doc, dict) and set(doc) == {"pairs"}:
        return SKELETON + "".join(f"        {line}\n" for line in block.splitlines())
    assert isinstance(doc, list), (
        f"a YAML example is not a pipeline file, `pairs:` or a list of pairs:\n{block}"
    )
    return SKELETON + "        pairs:\n" + "".join(f"          {line}\n" for line in block.splitlines())


@pytest.mark.parametrize("document", [GUIDE, PACKAGE / "README.md"], ids=lambda p: p.name)
def test_every_yaml_example_loads_and_builds_its_processors(document):
    examples = blocks("yaml", document)
    assert len(examples) >= (4 if document == GUIDE else 1)
    for block in examples:
        config = load_config_text(as_config_text(block), str(document))
        for channel in config.channels:
            for pipeline in channel.pipelines:
                plugins = PipelinePlugins(pipeline)
                for pair in pipeline.pairs:
                    assert pair.processors and set(pair.processor_options) <= set(pair.processors)
                    assert len(plugins.event_processors(pair)) == len(pair.processors)


def test_the_setup_cfg_shown_is_the_packages():
    [ini] = blocks("ini")
    assert ini == (PACKAGE / "setup.cfg").read_text()


def test_the_shortened_processor_masks_like_the_real_one():
    [code] = [b for b in blocks("python") if "@hookimpl" in b]
    module = types.ModuleType("guide_mask")
    exec(compile(code, "processor-guide.md", "exec"), module.__dict__)  # the guide's own code
    shortened = module.otter_event_processor(name="mask", options={"columns": ["email", "phone"]}, pair=None)
    assert module.otter_event_processor(name="other", options={}, pair=None) is None
    real = processor_from_options({"columns": ["email", "phone"]})
    for email, phone in [("ann@example.com", "+86 138-0013-8000"), ("nobody", "1234"), ("x@y", "555 0101")]:
        event = EventData(
            "crm",
            "customer",
            EventType.INSERT,
            keys={"id": 1},
            columns={"name": "Ann", "email": email, "phone": phone},
        )
        assert shortened.process(event) == real.process(event)


def imports(tree):
    return {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    } | {
        (alias.name, None) for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }


def test_the_test_examples_are_copied_from_the_real_tests():
    sources = "\n".join(p.read_text() for p in (PACKAGE / "tests").glob("test_mask_*.py"))
    real_imports = imports(ast.parse(sources))
    examples = [b for b in blocks("python") if "def test_" in b]
    assert len(examples) >= 2
    for block in examples:
        tree = ast.parse(block)
        assert imports(tree) <= real_imports
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.Assign)):
                assert ast.get_source_segment(block, node) in sources


@pytest.mark.usefixtures("clean_databases")
def test_the_pipeline_of_step_5_runs_end_to_end(mariadb_source, mariadb_target, tmp_path):
    [pipeline_file] = [b for b in blocks("yaml") if "sources:" in b]
    ddl, insert = blocks("sql")

    def statements(text: str) -> list[str]:
        return [s.strip() for s in text.split(";") if s.strip()]

    for server in (mariadb_source, mariadb_target):
        server.execute(*statements(ddl))
    doc = yaml.safe_load(pipeline_file)
    doc["sources"] = {"src": mariadb_source.source_config("src"), "dst": mariadb_target.source_config("dst")}
    file, pos = mariadb_source.binlog_position()
    doc["channels"][0]["pipelines"][0]["start"] = {"file": file, "pos": pos}
    with running(yaml.safe_dump(doc), str(tmp_path / "state")) as runner:
        mariadb_source.execute(*statements(insert))
        wait_caught_up(runner, mariadb_source)
    [row] = mariadb_target.execute("SELECT * FROM crm.customer")
    assert f"The target holds `{row}`" in GUIDE.read_text()
    assert row == (1, "Ann", "a***@example.com", "+** ***-****-8000")

"""The YAML reference documents every key with its default, and its examples load."""

import re
from pathlib import Path

import attrs
import pytest

from otter_core.config import PAIR_KEYS, PIPELINE_KEYS, SOURCE_KEYS, load_config_text
from otter_core.model import PipelineParameters

DOCS = Path(__file__).parents[2] / "docs"
REFERENCE = (DOCS / "configuration.md").read_text()


def documented_keys() -> set[str]:
    return set(re.findall(r"^\| `([a-z_]+)` \|", REFERENCE, re.M))


@pytest.mark.parametrize("key", sorted(SOURCE_KEYS | PIPELINE_KEYS | PAIR_KEYS | {"name", "pipelines"}))
def test_every_yaml_key_is_in_the_reference(key):
    assert key in documented_keys()


@pytest.mark.parametrize("field", attrs.fields(PipelineParameters), ids=lambda f: f.name)
def test_every_parameter_is_documented_with_its_default(field):
    row = re.search(rf"^\| `{field.name}` \| ([^|]+) \|", REFERENCE, re.M)
    assert row, f"{field.name} is not in docs/configuration.md"
    default = field.default.value if hasattr(field.default, "value") else field.default
    shown = row.group(1).strip().strip("`")
    assert shown == ("derived" if default is None else str(default).lower()), field.name


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


@pytest.mark.parametrize("doc", ["configuration.md", "../README.md"])
def test_yaml_examples_load(doc, monkeypatch):
    monkeypatch.setenv("DST_PASSWORD", "example")
    blocks = yaml_blocks((DOCS / doc).read_text())
    assert blocks
    for block in blocks:
        assert load_config_text(block, doc).channels

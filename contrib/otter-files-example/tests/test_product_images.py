"""The example resolver names the image and thumbnail of a product, and its files sync with the row."""

import os

import pytest

from otter_core.files.collect import collect_files
from otter_core.spi import (
    DataError,
    DataMedia,
    DataMediaPair,
    EventData,
    EventType,
    FileAction,
    Pipeline,
    PipelinePlugins,
)


def pair_for(tmp_path) -> DataMediaPair:
    return DataMediaPair(
        DataMedia("shop", "product"),
        DataMedia("shop", "product"),
        file_resolver="product-images",
        file_resolver_options={
            "source_root": str(tmp_path / "src"),
            "target_root": str(tmp_path / "dst"),
            "extension": "png",
        },
    )


def resolver_for(pair):
    plugins = PipelinePlugins(Pipeline("p", "a", "b", (pair,)))
    return plugins.file_resolver("product-images", pair, pair.file_resolver_options)


def test_image_and_thumbnail_paths_are_sharded_by_id(tmp_path):
    pair = pair_for(tmp_path)
    for path in ("images/0012/12345.png", "thumbs/0012/12345_s.png"):
        os.makedirs(os.path.dirname(tmp_path / "src" / path), exist_ok=True)
        (tmp_path / "src" / path).write_bytes(b"png")
    resolver = resolver_for(pair)
    row = EventData("shop", "product", EventType.INSERT, {"id": 12345}, {"has_thumb": 1})
    assert [r.path for r in collect_files(resolver, pair, row)] == [
        "images/0012/12345.png",
        "thumbs/0012/12345_s.png",
    ]
    no_thumb = EventData("shop", "product", EventType.UPDATE, {"id": 12345}, {"has_thumb": 0})
    assert [r.path for r in collect_files(resolver, pair, no_thumb)] == ["images/0012/12345.png"]


def test_deleting_a_product_deletes_its_files(tmp_path):
    pair = pair_for(tmp_path)
    row = EventData("shop", "product", EventType.DELETE, {"id": 7}, {"has_thumb": 1})
    refs = collect_files(resolver_for(pair), pair, row)
    assert {r.action for r in refs} == {FileAction.DELETE} and len(refs) == 2


def test_a_product_without_an_integer_id_is_named(tmp_path):
    pair = pair_for(tmp_path)
    with pytest.raises(DataError, match="integer key column"):
        collect_files(
            resolver_for(pair), pair, EventData("shop", "product", EventType.INSERT, {"sku": "A"}, {})
        )

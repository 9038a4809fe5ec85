"""A dynamic FileResolver found through its entry point, run by Extract once per batch version."""

from otter_core.engine.extract import Extractor
from otter_core.spi import DataMedia, DataMediaPair, EventData, EventType, Pipeline, PipelinePlugins

RESOLVER = """def resolve(event):
    return [options["folder"] + "/" + event.columns["image"]] if event.columns.get("image") else []
"""


def test_dynamic_file_resolver_maps_rows_to_files(tmp_path):
    (tmp_path / "img/a").mkdir(parents=True)
    (tmp_path / "img/a/1.jpg").write_bytes(b"jpeg")
    pair = DataMediaPair(
        DataMedia("shop", "product"),
        DataMedia("shop", "product"),
        file_resolver="dynamic",
        file_resolver_options={
            "source": RESOLVER,
            "options": {"folder": "img"},
            "source_root": str(tmp_path),
            "target_root": str(tmp_path / "t"),
        },
    )
    pipeline = Pipeline("p", "src", "dst", (pair,))
    resolver = PipelinePlugins(pipeline).file_resolver("dynamic", pair, pair.file_resolver_options)
    extractor = Extractor(pipeline, {}, resolvers={pair: resolver})
    events = [
        EventData("shop", "product", EventType.INSERT, {"id": 1}, {"image": "a/1.jpg"}),
        EventData("shop", "product", EventType.INSERT, {"id": 2}, {"image": None}),
    ]
    [(_, first), (_, second)] = extractor.extract(events)
    assert [(f.path, f.size) for f in first.files] == [("img/a/1.jpg", 4)] and second.files == ()

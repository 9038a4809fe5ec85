"""``product-images``: a product row refers to ``images/<id // 1000>/<id>.<ext>`` and, when the row says so,
to its thumbnail ``thumbs/<id // 1000>/<id>_s.<ext>``. Deleting a product deletes both.

Why a resolver of its own rather than the ``template`` one: the shard folder is computed (``id // 1000``)
and the thumbnail exists only for rows with ``has_thumb = 1``: code says that more plainly than templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otter_core.spi import DataError, DataMediaPair, EventData, hookimpl


class ProductImages:
    is_delete_required = True  # a deleted product takes its images with it

    def __init__(self, extension: str) -> None:
        self.extension = extension

    def resolve(self, event: EventData) -> list[str]:
        product_id = event.keys.get("id")
        if not isinstance(product_id, int):
            raise DataError(
                f"product-images needs an integer key column `id`; {event.describe()} has none",
                retryable=False,
            )
        shard = f"{product_id // 1000:04d}"
        paths = [f"images/{shard}/{product_id}.{self.extension}"]
        if event.columns.get("has_thumb"):
            paths.append(f"thumbs/{shard}/{product_id}_s.{self.extension}")
        return paths


@hookimpl
def otter_file_resolver(name: str, options: Mapping[str, Any], pair: DataMediaPair) -> ProductImages | None:
    return ProductImages(str(options.get("extension", "jpg"))) if name == "product-images" else None

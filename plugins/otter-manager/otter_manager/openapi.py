"""Write the manager's OpenAPI document: ``python -m otter_manager.openapi [FILE]``
(default docs/manager-openapi.json). A test checks that the committed file is what this produces, so
regenerate it after adding or changing a route."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_FILE = Path(__file__).parents[3] / "docs" / "manager-openapi.json"


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of an app built on a throwaway state dir."""
    from otter_manager.app import create_app
    from otter_manager.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="otter-openapi-") as state:
        app = create_app(load_settings(state))
        try:
            return app.openapi()
        finally:
            app.state.db.dispose()


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else DEFAULT_FILE
    target.write_text(openapi_text())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

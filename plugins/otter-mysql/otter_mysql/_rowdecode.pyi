# Type stub of the C extension built from _native/ (optional: absent without a compiler). Its callers
# hold it as Any (rowops.EXTENSION), so the stub only tells mypy that the module exists.
from typing import Any

def __getattr__(name: str) -> Any: ...

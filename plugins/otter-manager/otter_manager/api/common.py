"""Shared pieces of the API routers."""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from otter_manager.security import require_admin, require_operator

ADMIN = [Depends(require_admin)]
OPERATOR = [Depends(require_operator)]
# FastAPI's `responses=`: status code -> OpenAPI response object
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"description": "no object with that id"}}
BAD_INPUT: Responses = {
    422: {"description": "invalid input: the detail names the field"},
    400: {"description": "malformed JSON body"},
}
CHANGE: Responses = {
    **NOT_FOUND,
    **BAD_INPUT,
    409: {"description": "clashes with stored config (duplicate name, in use)"},
    403: {"description": "not an ADMIN, or missing/wrong X-CSRF-Token"},
    401: {"description": "not logged in"},
}

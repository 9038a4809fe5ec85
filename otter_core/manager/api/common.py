"""Shared pieces of the API routers."""

from __future__ import annotations

from fastapi import Depends

from otter_core.manager.security import require_admin, require_operator

ADMIN = [Depends(require_admin)]
OPERATOR = [Depends(require_operator)]
NOT_FOUND = {404: {"description": "no object with that id"}}
BAD_INPUT = {
    422: {"description": "invalid input: the detail names the field"},
    400: {"description": "malformed JSON body"},
}
CHANGE = {
    **NOT_FOUND,
    **BAD_INPUT,
    409: {"description": "clashes with stored config (duplicate name, in use)"},
    403: {"description": "not an ADMIN, or missing/wrong X-CSRF-Token"},
    401: {"description": "not logged in"},
}

"""The config service the API and the pages both call: one import for every config operation.

Each function takes a SQLAlchemy session (and the acting user for changes), validates its input, writes an
audit entry and commits. Bad input raises ``ValidationProblem(field, message)`` (422), a missing object
``ObjectNotFound`` (404), a clash with stored config ``ConfigConflict`` (409).
"""
from otter_core.manager.services.channel_service import (  # noqa: F401
    create_channel, delete_channel, find_channel, get_channel, list_channels, update_channel,
)
from otter_core.manager.services.source_service import (  # noqa: F401
    create_media, create_source, delete_media, delete_source, find_or_create_media, get_media, get_source,
    list_media, list_sources, test_source, update_media, update_source,
)
from otter_core.manager.services.users_service import (  # noqa: F401
    create_user, delete_user, list_audit, list_users, update_user,
)

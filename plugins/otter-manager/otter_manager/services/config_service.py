"""The config service the API and the pages both call: one import for every config operation.

Each function takes a SQLAlchemy session (and the acting user for changes), validates its input, writes an
audit entry and commits. Bad input raises ``ValidationProblem(field, message)`` (422), a missing object
``ObjectNotFound`` (404), a clash with stored config ``ConfigConflict`` (409).
"""

from otter_manager.services.channel_service import (  # noqa: F401  -- re-exported: this module is the one import
    create_channel,
    delete_channel,
    find_channel,
    get_channel,
    list_channels,
    update_channel,
)
from otter_manager.services.pipeline_service import (  # noqa: F401  -- re-exported: this module is the one import
    create_pair,
    create_pipeline,
    delete_pair,
    delete_pipeline,
    get_pair,
    get_pipeline,
    list_pairs,
    list_pipelines,
    update_pair,
    update_pipeline,
)
from otter_manager.services.source_service import (  # noqa: F401  -- re-exported: this module is the one import
    create_media,
    create_source,
    delete_media,
    delete_source,
    find_or_create_media,
    get_media,
    get_source,
    list_media,
    list_sources,
    test_source,
    update_media,
    update_source,
)
from otter_manager.services.users_service import (  # noqa: F401  -- re-exported: this module is the one import
    create_user,
    delete_user,
    list_audit,
    list_users,
    update_user,
)
from otter_manager.services.yaml_io import (  # noqa: F401  -- re-exported: this module is the one import
    export_document,
    export_yaml,
    import_yaml,
    to_otter_config,
)

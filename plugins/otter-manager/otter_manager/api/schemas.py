"""Request bodies of the JSON API (pydantic): they document the API in OpenAPI and refuse unknown fields
and wrong types with 422 before a service sees them. The services check meaning (names, plugins, refs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def changes(self) -> dict[str, Any]:
        """The fields the client sent (a PATCH changes only those)."""
        return self.model_dump(exclude_unset=True, by_alias=True)

    def values(self) -> dict[str, Any]:
        """Every field, defaults included, leaving out those that are None."""
        return self.model_dump(exclude_none=True, by_alias=True)


class LoginIn(Body):
    username: str
    password: str


class UserIn(Body):
    username: str
    password: str
    role: Literal["ADMIN", "OPERATOR"] = "OPERATOR"


class UserPatch(Body):
    password: str | None = None
    role: Literal["ADMIN", "OPERATOR"] | None = None


class SourceIn(Body):
    name: str
    type: str
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str | None = None
    password_env: str | None = None
    encoding: str = "utf8mb4"
    options: dict[str, Any] = {}


class SourcePatch(Body):
    name: str | None = None
    type: str | None = None
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    password_env: str | None = None
    encoding: str | None = None
    options: dict[str, Any] | None = None


class MediaIn(Body):
    source_id: int
    schema_name: str = Field(alias="schema")
    name: str


class MediaPatch(Body):
    source_id: int | None = None
    schema_name: str | None = Field(None, alias="schema")
    name: str | None = None


class ChannelIn(Body):
    name: str
    description: str = ""


class ChannelPatch(Body):
    name: str | None = None
    description: str | None = None


class PipelineIn(Body):
    """A pipeline; ``start``, ``parameters``, ``exclude``, ``snapshot`` take the YAML's values."""

    channel_id: int
    name: str
    source_id: int
    target_id: int
    start: str | dict[str, Any] = "current"
    parameters: dict[str, Any] = {}
    selector: str | None = None
    loader: str | None = None
    pipe: str = "memory"
    arbitrator: str = "memory"
    exclude: list[Any] = []
    home: bool = False
    snapshot: bool | dict[str, Any] | None = None


class PipelinePatch(Body):
    channel_id: int | None = None
    name: str | None = None
    source_id: int | None = None
    target_id: int | None = None
    start: str | dict[str, Any] | None = None
    parameters: dict[str, Any] | None = None
    selector: str | None = None
    loader: str | None = None
    pipe: str | None = None
    arbitrator: str | None = None
    exclude: list[Any] | None = None
    home: bool | None = None
    snapshot: bool | dict[str, Any] | None = None


class PairFields(Body):
    """Media by id (``source_media_id``) or by name (``source: "shop.orders"``, made on the pipeline's
    source if missing); the other fields take the YAML's values."""

    source_media_id: int | None = None
    target_media_id: int | None = None
    source: str | None = None
    target: str | None = None
    target_source_id: int | None = None
    columns: list[Any] | dict[str, Any] | None = None
    column_mode: str | None = None
    column_groups: list[list[str]] | None = None
    push_weight: int | None = None
    processors: list[str] | None = None
    processor_options: dict[str, dict[str, Any]] | None = None
    filter: str | None = None
    file_resolver: str | dict[str, Any] | None = None
    conflict: str | None = None


class PairIn(PairFields):
    pipeline_id: int


class PairPatch(PairFields):
    pipeline_id: int | None = None

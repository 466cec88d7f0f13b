"""Confluent Schema Registry error answers: its status codes and wording, so clients react to
them exactly as they would against Confluent's registry."""

from __future__ import annotations

from collections.abc import Sequence

from kafkalab.errors import KafkalabError


class ApiError(KafkalabError):
    """An answer the HTTP layer turns into `{"error_code": code, "message": message}`."""

    status = 500
    code = 50001


class SubjectNotFound(ApiError):
    status, code = 404, 40401

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' not found.")


class VersionNotFound(ApiError):
    status, code = 404, 40402

    def __init__(self, version: int) -> None:
        super().__init__(f"Version {version} not found.")


class SchemaNotFound(ApiError):
    status, code = 404, 40403

    def __init__(self, schema_id: int | None = None) -> None:
        super().__init__(
            "Schema not found" if schema_id is None else f"Schema {schema_id} not found"
        )


class SubjectSoftDeleted(ApiError):
    status, code = 404, 40404

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
        )


class SubjectNotSoftDeleted(ApiError):
    status, code = 404, 40405

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' was not deleted first before being permanently deleted"
        )


class VersionSoftDeleted(ApiError):
    status, code = 404, 40406

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(
            f"Subject '{subject}' Version {version} was soft deleted."
            "Set permanent=true to delete permanently"
        )


class VersionNotSoftDeleted(ApiError):
    status, code = 404, 40407

    def __init__(self, subject: str, version: int) -> None:
        super().__init__(
            f"Subject '{subject}' Version {version} was not deleted "
            "first before being permanently deleted"
        )


class SubjectConfigNotFound(ApiError):
    status, code = 404, 40408

    def __init__(self, subject: str) -> None:
        super().__init__(
            f"Subject '{subject}' does not have subject-level compatibility configured"
        )


class SubjectModeNotFound(ApiError):
    status, code = 404, 40409

    def __init__(self, subject: str) -> None:
        super().__init__(f"Subject '{subject}' does not have subject-level mode configured")


class IncompatibleSchema(ApiError):
    """409 with Confluent 8.2+'s error code 40901 (earlier releases and Karapace send 409)."""

    status, code = 409, 40901

    def __init__(self, subject: str, details: Sequence[str]) -> None:
        super().__init__(
            "Schema being registered is incompatible with an earlier schema for subject "
            f'"{subject}", details: [{", ".join(details)}]'
        )
        self.details = list(details)


class InvalidSchemaError(ApiError):
    status, code = 422, 42201


class InvalidVersion(ApiError):
    status, code = 422, 42202

    def __init__(self, version: str) -> None:
        super().__init__(
            f"The specified version '{version}' is not a valid version id. "
            'Allowed values are between [1, 2^31-1] and the string "latest"'
        )


class InvalidCompatibilityLevel(ApiError):
    status, code = 422, 42203


class InvalidMode(ApiError):
    status, code = 422, 42204

    def __init__(self) -> None:
        super().__init__("Invalid mode. Valid values are READWRITE, READONLY and IMPORT.")


class OperationNotPermitted(ApiError):
    """A write the mode forbids, an id already naming another schema, an import over data."""

    status, code = 422, 42205


class InvalidSubject(ApiError):
    status, code = 422, 42208

    def __init__(self, subject: str, why: str = "") -> None:
        super().__init__(f"The specified subject '{subject}' is not a valid.{why}")


def read_only(subject: str | None) -> OperationNotPermitted:
    """Confluent's wording; kafkalab has only the default context, whose name is empty."""
    return OperationNotPermitted(f"Subject {subject} in context  is in read-only mode")


class StoreError(ApiError):
    """Kafka did not answer in time: the write may or may not have happened."""

    status, code = 500, 50001

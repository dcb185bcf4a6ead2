"""The intake API's OpenAPI document, served at ``/api/v1/openapi.json``.

Written next to the code it describes and built from the same enums and limits,
so a new kind or status cannot reach one without the other. A schemathesis run
in the tests (tests/http/test_openapi.py) holds the server to it.
"""

from __future__ import annotations

from typing import Any

from bot.domain.model import Action, Area, CaseKind, CaseStatus, Purpose

#: Enum values as the API writes them.
KINDS = [k.value for k in CaseKind]
STATUSES = [s.value for s in CaseStatus]
AREAS = [a.value for a in Area]
PURPOSES = [p.value for p in Purpose]
ACTIONS = [a.value for a in Action]

_NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object with exactly these properties, all required unless `required` says which."""
    return {
        "type": "object",
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
        "properties": properties,
    }


def _param(where: str, name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    """A query or path parameter (a path parameter is always required)."""
    param: dict[str, Any] = {"name": name, "in": where}
    if where == "path":
        param["required"] = True
    param["schema"] = schema
    if description:
        param["description"] = description
    return param


def _error(description: str, *, fields: bool = False) -> dict[str, Any]:
    ref = "#/components/schemas/Invalid" if fields else "#/components/schemas/Error"
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


EVIDENCE_FIELDS = ["id", "kind", "at", "actor", "mime", "size", "latitude", "longitude", "url"]


def _case_schema(*, with_history: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "ref": {"type": "string", "examples": ["PL-17"]},
        "external_ref": _NULLABLE_STRING,
        "kind": {"enum": KINDS},
        "team": {"type": "string"},
        "status": {"enum": STATUSES},
        "assignee": {**_NULLABLE_STRING, "description": "member id, e.g. telegram:123"},
        "customer": _closed(
            {
                "name": {"type": "string"},
                "phone": {"type": "string", "description": "national form, 0912345678"},
                "address": {"type": "string"},
            }
        ),
        "area": {"enum": [*AREAS, None]},
        "purpose": {"enum": [*PURPOSES, None]},
        "received_at": _TIME,
        "due_at": {
            **_nullable(_TIME),
            "description": "when the whole case is due, on working time (holds excluded)",
        },
        "estimate": _nullable(
            _closed(
                {
                    "customer_cost": {"type": "integer", "minimum": 0},
                    "utility_cost": {"type": "integer", "minimum": 0},
                }
            )
        ),
        "meter": _nullable(_closed({"serial": {"type": "string"}, "reading": _NULLABLE_STRING})),
    }
    required = list(properties)
    if with_history:
        properties["history"] = {
            "type": "array",
            "items": _closed(
                {
                    "at": _TIME,
                    "action": {"enum": ACTIONS},
                    "actor": {"type": "string"},
                    "status": {"enum": STATUSES},
                    "note": _NULLABLE_STRING,
                }
            ),
        }
        required.append("history")
        properties["evidence"] = {
            "type": "array",
            "description": "photos and locations sent as evidence, oldest first",
            "items": _closed(
                {
                    "id": {"type": "integer"},
                    "kind": {"enum": ["photo", "location"]},
                    "at": _TIME,
                    "actor": {"type": "string", "description": "member id of the sender"},
                    "mime": _NULLABLE_STRING,
                    "size": {"type": ["integer", "null"]},
                    "latitude": {"type": ["number", "null"]},
                    "longitude": {"type": ["number", "null"]},
                    "url": {
                        **_NULLABLE_STRING,
                        "description": "where the photo is served; null for a location, "
                        "or once purged",
                    },
                },
                EVIDENCE_FIELDS,
            ),
        }
        required.append("evidence")
    return _closed(properties, required)


def _intake_schema(description_max: int) -> dict[str, Any]:
    text = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "required": ["kind", "team", "customer"],
        "additionalProperties": False,
        "description": (
            "area and purpose are required for new_connection (its SLA depends on them). "
            "Unknown fields are refused."
        ),
        "properties": {
            "external_ref": {
                "type": ["string", "null"],
                "minLength": 1,
                "maxLength": 128,
                "description": (
                    "the integration's own id, unique per token name: a repeat with the "
                    "same token returns the same case (200); another token's same id is "
                    "another case"
                ),
            },
            "kind": {"enum": KINDS},
            "team": {**text, "maxLength": 16, "description": "an existing team's code"},
            "area": {"enum": [*AREAS, None]},
            "purpose": {"enum": [*PURPOSES, None]},
            "needs_extra_works": {"type": ["boolean", "null"]},
            "customer": _closed(
                {
                    "name": {**text, "maxLength": 200},
                    "phone": {"type": "string", "examples": ["0912345678", "+84 912 345 678"]},
                    "address": {**text, "maxLength": 500},
                }
            ),
            "description": {"type": ["string", "null"], "maxLength": description_max},
            "received_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "with an offset; may lie in the past (SLA clocks start there)",
            },
        },
    }


def openapi_document(*, max_body: int, max_limit: int, body_seconds: float) -> dict[str, Any]:
    """The document; sizes come from the server so the two cannot drift apart."""
    auth: list[dict[str, list[str]]] = [{"bearer": []}]
    unauthorized = _error("no or wrong token")
    outside = _error("the token is limited to other teams (INTAKE_TOKENS name:SECRET:PL+LN)")
    case_ref = {"$ref": "#/components/schemas/CaseWithHistory"}
    as_json = {"application/json": {"schema": case_ref}}
    ref_param = _param("path", "ref", {"type": "string"})
    limit = {"type": "integer", "minimum": 1, "maximum": max_limit}
    health = {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"enum": ["ok", "unavailable"]}},
            }
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dispatchbot intake API",
            "version": "1",
            "description": (
                "Cases from the one-stop desk into the crews' chats. Every call needs "
                "`Authorization: Bearer <token>` (INTAKE_TOKEN or one of INTAKE_TOKENS). "
                "A token limited to some teams gets 403 for any other team's cases, "
                "and lists only its own teams'."
            ),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "Invalid": {
                    "type": "object",
                    "required": ["error", "fields"],
                    "properties": {
                        "error": {"type": "string"},
                        "fields": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                            "description": "dotted field path → what is wrong with it",
                        },
                    },
                },
                "Intake": _intake_schema(2000),
                "Case": _case_schema(with_history=False),
                "CaseWithHistory": _case_schema(with_history=True),
            },
        },
        "paths": {
            "/api/v1/cases": {
                "post": {
                    "operationId": "createCase",
                    "summary": "Take in a case; idempotent on external_ref",
                    "security": auth,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Intake"}}
                        },
                    },
                    "responses": {
                        "201": {"description": "created and posted", "content": as_json},
                        "200": {"description": "seen before: the same case", "content": as_json},
                        "400": _error(
                            "not JSON (not UTF-8, a duplicate key, nested too deep), or not "
                            "a JSON object"
                        ),
                        "401": unauthorized,
                        "403": outside,
                        "408": _error(f"the body did not arrive within {body_seconds:.0f} s"),
                        "409": _error(
                            "this token's external_ref already names a case of another team"
                        ),
                        "413": _error(f"body over {max_body // 1024} KiB"),
                        "422": _error("invalid fields; nothing stored", fields=True),
                    },
                },
                "get": {
                    "operationId": "listCases",
                    "summary": "Cases, oldest first, without history",
                    "security": auth,
                    "parameters": [
                        _param(
                            "query",
                            "status",
                            {"type": "string"},
                            "one status or several, comma-separated",
                        ),
                        _param(
                            "query",
                            "team",
                            {"type": "string"},
                            "a team code; a scoped token lists its teams' cases without it",
                        ),
                        _param(
                            "query",
                            "overdue",
                            {"enum": ["true", "false"]},
                            "true: only cases past a due time, on working time",
                        ),
                        _param("query", "limit", limit),
                    ],
                    "responses": {
                        "200": {
                            "description": "the cases",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Case"},
                                    }
                                }
                            },
                        },
                        "401": unauthorized,
                        "403": outside,
                        "422": _error("a bad parameter", fields=True),
                    },
                },
            },
            "/api/v1/cases/{ref}": {
                "get": {
                    "operationId": "getCase",
                    "summary": "One case with its history",
                    "security": auth,
                    "parameters": [ref_param],
                    "responses": {
                        "200": {"description": "the case", "content": as_json},
                        "401": unauthorized,
                        "403": outside,
                        "404": _error("no such case"),
                    },
                },
            },
            "/api/v1/cases/{ref}/evidence/{evidence_id}": {
                "get": {
                    "operationId": "getEvidencePhoto",
                    "summary": "A photo sent as evidence of the case",
                    "security": auth,
                    "parameters": [
                        ref_param,
                        _param("path", "evidence_id", {"type": "integer", "minimum": 1}),
                    ],
                    "responses": {
                        "200": {
                            "description": "the photo's bytes",
                            "content": {
                                mime: {"schema": {"type": "string", "format": "binary"}}
                                for mime in ("image/jpeg", "image/png", "image/webp", "image/heic")
                            },
                        },
                        "401": unauthorized,
                        "403": outside,
                        "404": _error("no such case or photo, or the photo was purged"),
                    },
                },
            },
            "/healthz": {
                "get": {
                    "operationId": "health",
                    "summary": "200 when the database answers",
                    "responses": {
                        "200": {"description": "healthy", "content": health},
                        "503": {"description": "the database does not answer", "content": health},
                    },
                }
            },
        },
    }

"""Holding answers to ``openapi.json``: every call a test makes through ``Api`` is checked.

``Api.call`` sends a request with Django's test client and then checks, in
the document: that the path and method are described, that the status is
one of the operation's responses, that the JSON body validates against the
response's schema (JSON Schema 2020-12, which OpenAPI 3.1 uses), that the
documented headers (``WWW-Authenticate``, ``Retry-After``) are there, and,
for a 2xx answer, that the request body the test sent matches the
operation's request schema (so the document describes what really works).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs

from django.test import Client
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from copgate.distributor.api.openapi import load

BASE = "urn:copgate:openapi"
SEEN: set[tuple[str, str, str]] = set()
"""(path template, method, status) of every checked answer of the session."""


def registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(load(), default_specification=DRAFT202012)
    return cast("Registry[Any]", Registry().with_resource(BASE, resource))


REGISTRY = registry()


def pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def template_of(path: str) -> str:
    """The document's path template that ``path`` is an instance of."""
    for template in load()["paths"]:
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return str(template)
    raise AssertionError(f"{path} is not in openapi.json")


def validate(instance: object, schema_pointer: str) -> None:
    validator = Draft202012Validator({"$ref": BASE + schema_pointer}, registry=REGISTRY)
    errors = sorted(validator.iter_errors(instance), key=str)
    assert not errors, f"{schema_pointer}: {errors[0].message} at {list(errors[0].path)}"


def _response(template: str, method: str, status: int) -> tuple[dict[str, Any], list[str]]:
    operation = load()["paths"][template].get(method)
    assert operation is not None, f"{method.upper()} {template} is not in openapi.json"
    responses = operation["responses"]
    assert str(status) in responses, f"{method.upper()} {template}: {status} is not documented"
    parts = ["paths", template, method, "responses", str(status)]
    answer = responses[str(status)]
    if "$ref" in answer:
        parts = answer["$ref"].removeprefix("#/").split("/")
        answer = load()
        for part in parts:
            answer = answer[part]
    return answer, parts


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """Django's test client, speaking JSON and checking every answer against the document."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        meta: dict[str, str] | None = None,
    ) -> Answer:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        extra = dict(headers or {})
        if token is not None:
            extra["Authorization"] = f"Bearer {token}"
        response = self.client.generic(
            method.upper(),
            path,
            data,
            content_type=content_type,
            headers=extra,
            **(meta or {}),  # type: ignore[arg-type]
        )
        route, _, query = path.partition("?")
        template = template_of(route)
        documented = {
            p["name"]
            for p in load()["paths"][template][method.lower()].get("parameters", [])
            if p["in"] == "query"
        }
        for field in parse_qs(query):
            assert field in documented, f"{method.upper()} {template}: ?{field} is not documented"
        spec, parts = _response(template, method.lower(), response.status_code)
        SEEN.add((template, method.lower(), str(response.status_code)))
        assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
        decoded = json.loads(response.content)
        validate(decoded, pointer(*parts, "content", "application/json", "schema"))
        for header in spec.get("headers", {}):
            assert response.has_header(header), f"{response.status_code} without {header}"
        if 200 <= response.status_code < 300 and body is not None:
            request_body = load()["paths"][template][method.lower()]["requestBody"]
            assert "application/json" in request_body["content"]
            where = ["paths", template, method.lower(), "requestBody", "content"]
            validate(body, pointer(*where, "application/json", "schema"))
        return Answer(response.status_code, decoded, dict(response.items()))

    def get(self, path: str, **kwargs: Any) -> Answer:
        return self.call("get", path, **kwargs)

    def post(self, path: str, body: object = None, **kwargs: Any) -> Answer:
        return self.call("post", path, body, **kwargs)

"""The OpenAPI document: well-formed, served as it is, and naming exactly the API's endpoints."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from jsonschema import Draft202012Validator

from copgate.distributor.api.http import ENDPOINTS
from copgate.distributor.api.openapi import load
from tests.distributor.conftest import Backend

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> object:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_document_is_openapi_3_1_with_valid_schemas() -> None:
    document = load()
    assert document["openapi"].startswith("3.1.")
    assert {"title", "version"} <= set(document["info"])
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # SchemaError names the fault
    for ref in _refs(document):
        assert ref.startswith("#/"), ref
        _resolve(document, ref)  # KeyError names a dangling reference


def test_every_operation_documents_its_answers_and_has_a_unique_id() -> None:
    ids = []
    for path, item in load()["paths"].items():
        for method, operation in item.items():
            assert method in METHODS, (path, method)
            ids.append(operation["operationId"])
            assert operation["responses"], (path, method)
            for status in operation["responses"]:
                assert re.fullmatch(r"[1-5][0-9][0-9]", status), (path, method, status)
    assert len(ids) == len(set(ids))


def _api_routes() -> dict[str, str]:
    """URL name -> its path in OpenAPI's template syntax, from the URL conf."""
    (api,) = [p for p in get_resolver().url_patterns if str(p.pattern) == "api/"]
    assert isinstance(api, URLResolver)
    routes = {}
    for pattern in api.url_patterns:
        assert isinstance(pattern, URLPattern)
        if pattern.name == "not_found":
            continue
        route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        routes[str(pattern.name)] = f"/api/{route}"
    return routes


def test_the_document_names_exactly_the_api_and_its_methods() -> None:
    routes = _api_routes()
    documented = {
        (path, method.upper()) for path, item in load()["paths"].items() for method in item
    }
    served = {(routes[name], method) for name, actions in ENDPOINTS.items() for method in actions}
    served.add((routes["openapi"], "GET"))
    assert documented == served


def test_the_document_is_served_to_anyone(db: Backend) -> None:
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json() == load()
    assert Client().post("/api/openapi.json").status_code == 405


def test_other_paths_under_api_are_json_404s(db: Backend) -> None:
    for path in ("/api/v1/report", "/api/v1/reports/", "/api/v2/reports", "/api/"):
        response = Client().post(path, "{}", content_type="application/json")
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert "openapi.json" in response.json()["error"]

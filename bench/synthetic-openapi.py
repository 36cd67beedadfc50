"""Writes a synthetic OpenAPI 3.0 document (JSON) with the given number of operations to stdout.

Realistic weight per operation: parameters, a request body schema, several responses with content,
and vendor extensions, so the file is several MB like a large real API.
"""
import json
import sys

ops = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
methods = ["get", "put", "post", "delete", "patch"]
paths = {}
for i in range(ops):
    path = f"/api/v1/resource{i // len(methods)}/{{id}}/items.json"
    method = methods[i % len(methods)]
    op = {
        "operationId": f"op{i}",
        "summary": f"Operation {i} on resource {i // len(methods)}",
        "parameters": [
            {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "format": "int64"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
        ],
        "responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
            "404": {"description": "not found"},
            "5XX": {"description": "server error"},
        },
    }
    if method in ("put", "post", "patch"):
        op["requestBody"] = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}
    if i % 3 == 0:
        op["x-linkerd-retryable"] = True
        op["x-linkerd-timeout"] = "250ms"
    paths.setdefault(path, {})[method] = op

doc = {
    "openapi": "3.0.3",
    "info": {"title": "synthetic", "version": "1"},
    "servers": [{"url": "https://api.example.com"}],
    "paths": paths,
    "components": {"schemas": {"Item": {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}}},
}
json.dump(doc, sys.stdout, indent=1)

"""HTTP API (django-ninja): OpenAPI schema at /api/openapi.json, docs at /api/docs."""

from ninja import NinjaAPI

api = NinjaAPI(title="Chorus API", version="1", urls_namespace="api")

"""A bare django-ninja app inserting one row per request: the ingestion benchmark's reference.

Not part of the product. Run: `DATABASE_URL=... uvicorn benchmarks.bare_app.asgi:application`.
"""

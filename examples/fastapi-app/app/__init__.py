"""The request's FastAPI app (examples/fastapi-app)."""

"""The HTTP shell: FastAPI routes that validate, call a use case and shape the answer."""

"""The OpenAI-compatible chat API under ``/v1``: its routes, its request and response bodies,
and its errors in OpenAI's shape."""

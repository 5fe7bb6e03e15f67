"""Pydantic models: API requests/responses, events, and table items."""

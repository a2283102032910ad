"""The environment contract: pydantic models, their loader and the release catalogue."""

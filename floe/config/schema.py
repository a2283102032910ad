"""The environment JSON Schema, generated from the pydantic models (never written by hand)."""

import json

from floe.config.environment import Environment
from floe.rendered import Json


def environment_schema() -> Json:
    schema = Environment.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "floe environment"
    return schema


def environment_schema_text() -> str:
    return json.dumps(environment_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    # Regenerate the committed schema: python -m floe.config.schema
    from floe.config.loader import ENVIRONMENTS_DIR, SCHEMA_FILE

    (ENVIRONMENTS_DIR / SCHEMA_FILE).write_text(environment_schema_text(), encoding="utf-8")

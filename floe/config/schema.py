"""The environment JSON Schema, generated from the pydantic models (never written by hand)."""

import ast
import functools
import inspect
import itertools
import json
import textwrap

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from floe.config.environment import Environment
from floe.rendered import Json


@functools.cache
def attribute_docstrings(cls: type) -> dict[str, str]:
    """Field name → the string literal right below the field's annotation in ``cls``'s own body, as
    ``inspect.cleandoc`` tidies a docstring."""
    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0]
    found: dict[str, str] = {}
    if not isinstance(body, ast.ClassDef):
        return found
    for field, below in itertools.pairwise(body.body):
        if (isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name) and isinstance(below, ast.Expr)
                and isinstance(below.value, ast.Constant) and isinstance(below.value.value, str)):
            found[field.target.id] = inspect.cleandoc(below.value.value)
    return found


class DescribedByDocstrings(GenerateJsonSchema):
    """Each field's description is its attribute docstring, read here, where the schema is made. (Pydantic's
    ``use_attribute_docstrings`` reads every model's source each time the models load: a sixth of a
    render's own time, for descriptions only this schema shows.)"""

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        for name, field in json_schema.get("properties", {}).items():
            # Described where it is declared: by the nearest class that annotates it (a subclass may redeclare it).
            owner = next(cls for cls in schema["cls"].__mro__ if name in vars(cls).get("__annotations__", {}))
            if name in attribute_docstrings(owner):
                field.setdefault("description", attribute_docstrings(owner)[name])
        return json_schema


def environment_schema() -> Json:
    schema = Environment.model_json_schema(schema_generator=DescribedByDocstrings)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "floe environment"
    return schema


def environment_schema_text() -> str:
    return json.dumps(environment_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    # Regenerate the committed schema: python -m floe.config.schema
    from floe.config.loader import ENVIRONMENTS_DIR, SCHEMA_FILE

    (ENVIRONMENTS_DIR / SCHEMA_FILE).write_text(environment_schema_text(), encoding="utf-8")

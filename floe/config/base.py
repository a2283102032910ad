"""The base of every environment model: frozen, and strict about unknown keys."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A typo in an environment file must fail loudly, never be ignored; models never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

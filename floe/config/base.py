"""The base of every environment model: frozen, and strict about unknown keys."""

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A typo in an environment file must fail loudly, never be ignored; models never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def first_set(self, *fields: str) -> str:
        """The first of ``fields`` the file sets, else the last: where a check across them points the user."""
        return next((field for field in fields if field in self.model_fields_set), fields[-1])


class FieldError(ValueError):
    """A check across fields that names the one field to fix.

    Pydantic gives a model validator's error the model's location; the loader appends ``path``
    (relative to the model that raised it) so the message points at the field's own line.
    """

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path

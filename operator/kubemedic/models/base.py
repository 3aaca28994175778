"""The base model: camelCase on the wire (as the Kubernetes API), snake_case in Python."""

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class KubeModel(BaseModel):
    """Strict model whose JSON/YAML form uses camelCase keys.

    NB: ``extra="forbid"`` so a typo in a bundle file or spec is an error that
    names the field instead of being silently ignored.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )

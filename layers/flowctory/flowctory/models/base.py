"""The base of every pydantic model of the package."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """A model built on first use rather than at import: a function uses a few of the package's
    models per request, and building all of them would cost every cold start."""

    model_config = ConfigDict(defer_build=True)

"""The `smtp:` settings, apart from notify so that reading patchorch.yml does not import the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class SmtpSettings(BaseModel):
    """The `smtp:` section of patchorch.yml. The password, if any, is read from the environment variable named."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    host: Annotated[str, Field(min_length=1, max_length=255)]
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: Annotated[str, Field(alias="from", pattern=r"^[^@\s<>]+@[^@\s<>]+$")]
    security: Literal["none", "starttls", "ssl"] = "starttls"
    username: str | None = None
    password_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    ca_file: Path | None = None
    timeout: Annotated[float, Field(gt=0, le=600)] = 30.0

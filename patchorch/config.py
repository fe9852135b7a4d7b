"""Settings: a project file `patchorch.yml`, `PATCHORCH_*` environment variables, then flags (flags win).

The project file is found in the working directory (or given with `--config`). Every key is optional:

    inventory: [inventories/example-mail]   # one path or a list; relative paths are relative to the file
    policy: inventories/example-mail/policy.yml
    state_dir: .patchorch                   # SQLite store, run directories, debug logs
    store_url: postgresql://USER@HOST/DB    # instead of SQLite in state_dir
    template_dir: my-templates              # overrides of patchorch's stage templates
    log_format: console                     # or json
    advisory_sources:                       # what `advisories sync` pulls (docs/ADVISORY_SYNC.md)
      - {type: csaf, name: bsi, url: https://wid.cert-bund.de/.well-known/csaf/provider-metadata.json}
      - {type: kev}
      - {type: osv}
    smtp: {host: mail.example.org, port: 587, from: patchorch@example.org, security: starttls}
    run_lock_lease: 60s                     # a run's lock without a heartbeat expires after this (10s to 1h)
    claim_lease: 10m                        # a host claim without a heartbeat expires after this (10s to 1h)

Environment: PATCHORCH_INVENTORY (paths separated by ':'), PATCHORCH_POLICY, PATCHORCH_STATE_DIR, PATCHORCH_STORE_URL,
PATCHORCH_TEMPLATE_DIR, PATCHORCH_LOG_FORMAT, PATCHORCH_RUN_LOCK_LEASE, PATCHORCH_CLAIM_LEASE. Without any of them the
state lives in `$XDG_STATE_HOME/patchorch` (`~/.local/state/patchorch`), which needs no set-up.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from patchorch.domain.run import CLAIM_LEASE, LEASE_RANGE, RUN_LOCK_LEASE
from patchorch.domain.spans import format_span, parse_span
from patchorch.errors import ConfigError, Problem
from patchorch.orchestrator.smtp_settings import SmtpSettings
from patchorch.sources._yaml import BoundedLoader
from patchorch.sources.feeds import SourceSpec

PROJECT_FILE = "patchorch.yml"
_ENV_PREFIX = "PATCHORCH_"


class Settings(BaseModel):
    """Resolved settings for one invocation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    inventory: tuple[Path, ...] = ()
    policy: Path | None = None
    state_dir: Path
    store_url: str | None = None
    template_dir: Path | None = None
    log_format: Literal["console", "json"] = "console"
    advisory_sources: tuple[SourceSpec, ...] = ()
    smtp: SmtpSettings | None = None
    run_lock_lease: timedelta = RUN_LOCK_LEASE
    claim_lease: timedelta = CLAIM_LEASE
    config_file: Path | None = None

    @field_validator("inventory", mode="before")
    @classmethod
    def _paths(cls, value: Any) -> Any:
        if isinstance(value, str | Path):
            return (value,)
        return value

    @field_validator("advisory_sources")
    @classmethod
    def _unique_names(cls, value: tuple[SourceSpec, ...]) -> tuple[SourceSpec, ...]:
        names = [source.name for source in value]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"source names must be unique (the sync state is kept per name); repeated: {repeated}")
        return value

    @field_validator("run_lock_lease", "claim_lease", mode="before")
    @classmethod
    def _lease(cls, value: Any) -> timedelta:
        shortest, longest = LEASE_RANGE
        lease = parse_span(value)
        if not shortest <= lease <= longest:
            raise ValueError(f"a lease must be between 10s and {format_span(longest)}, not {value!r}")
        return lease

    @field_validator("state_dir")
    @classmethod
    def _directory(cls, value: Path) -> Path:
        # The nearest part that exists must be a directory, or nothing can be created under it.
        for part in (value, *value.parents):
            if part.exists():
                if not part.is_dir():
                    raise ValueError(f"{part} is a file, not a directory" if part == value else f"{part} is a file")
                break
        return value


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """`$XDG_STATE_HOME/patchorch`, else `~/.local/state/patchorch`."""
    base = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "patchorch"


def load_settings(
    *,
    config_file: Path | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge the project file, the environment and `overrides` (flags; None values are ignored), flags winning."""
    environ = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    merged: dict[str, Any] = {}
    found = config_file or (cwd / PROJECT_FILE if (cwd / PROJECT_FILE).is_file() else None)
    if found is not None:
        merged.update(_read_project_file(found))
        merged["config_file"] = found
    merged.update(_from_environment(environ))
    merged.update({k: v for k, v in (overrides or {}).items() if v not in (None, (), [])})
    merged.setdefault("state_dir", default_state_dir(environ))
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        problems = [
            Problem(
                error["msg"].removeprefix("Value error, "),
                file=str(found) if found else None,
                field=".".join(str(p) for p in error["loc"]),
                value=error.get("input"),
            )
            for error in exc.errors()
        ]
        raise ConfigError(problems, summary="invalid settings") from None


def _read_project_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=BoundedLoader)  # noqa: S506  # a SafeLoader
    except FileNotFoundError:
        raise ConfigError([Problem("no such file", file=str(path))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(f"cannot be read ({exc})", file=str(path))]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = f"not valid YAML: {exc.problem or exc.context or 'cannot parse'}"
        raise ConfigError([Problem(problem, file=str(path), line=mark.line + 1 if mark else None)]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(f"not valid YAML: {exc}", file=str(path))]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([Problem("expected a mapping of settings", file=str(path))])
    base = path.parent
    result: dict[str, Any] = dict(data)
    for key in ("policy", "state_dir", "template_dir"):
        if isinstance(result.get(key), str):
            result[key] = base / result[key]
    _relative_source_paths(result, base)
    inventory = result.get("inventory")
    if isinstance(inventory, str):
        inventory = [inventory]
    if isinstance(inventory, list):
        result["inventory"] = [base / str(item) for item in inventory]
    return result


def _relative_source_paths(result: dict[str, Any], base: Path) -> None:
    """Key and CA files named in `advisory_sources` and `smtp` are relative to the project file, like the others."""
    sources = result.get("advisory_sources")
    for source in sources if isinstance(sources, list) else ():
        if not isinstance(source, dict):
            continue
        if isinstance(source.get("ca_file"), str):
            source["ca_file"] = base / source["ca_file"]
        if isinstance(source.get("keys"), list):
            source["keys"] = [base / key if isinstance(key, str) else key for key in source["keys"]]
    smtp = result.get("smtp")
    if isinstance(smtp, dict) and isinstance(smtp.get("ca_file"), str):
        smtp["ca_file"] = base / smtp["ca_file"]


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key in ("policy", "state_dir", "store_url", "template_dir", "log_format", "run_lock_lease", "claim_lease"):
        value = environ.get(_ENV_PREFIX + key.upper())
        if value:
            result[key] = value
    inventory = environ.get(_ENV_PREFIX + "INVENTORY")
    if inventory:
        result["inventory"] = [part for part in inventory.split(":") if part]
    return result

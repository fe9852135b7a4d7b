"""The exceptions patchorch raises, one small tree.

    PatchorchError                  every error patchorch raises on purpose
    ├── InputError                  bad input from a person: nothing ran, nothing recorded changed (exit 2)
    │   ├── InventoryError          an inventory Ansible cannot read, or patchorch_* metadata that does not validate
    │   ├── PolicyError             a policy file that does not parse or validate
    │   ├── AdvisoryError           a CSAF / KEV / OSV document that does not parse or validate
    │   ├── ConfigError             patchorch.yml, PATCHORCH_* variables or flags that contradict or do not validate
    │   │                           (a store URL patchorch cannot use, or whose server does not answer)
    │   └── PlanError               inputs that cannot make a plan (no such run, a stored plan that does not match)
    ├── RenderError                 a template that failed or produced content that does not re-parse
    ├── ExecutionError              ansible-runner could not run a stage at all (not a host failure: that is data)
    ├── SourceError                 an advisory source that cannot be fetched or whose documents do not verify
    ├── HostFailures                raised by `raise_for_failure()` when hosts failed (patchorch.domain.outcomes)
    ├── StoreError                  the state store cannot be opened, migrated or written
    │   └── AuditChainError         the audit log's hash chain does not verify
    └── RunStateError               an operation the run's state does not allow (resume a finished run, approve twice)
        ├── HostClaimedError        a host is claimed by another run whose lease has not expired
        └── RunLockedError          another process drives the run and its lock's lease has not expired

Exceptions carry structured context (file, host, field, value, allowed, stage) so the CLI can print one clear line.
They never log, print or carry exit codes: the CLI maps classes to exit statuses.
"""

from __future__ import annotations

from collections.abc import Sequence


class PatchorchError(Exception):
    """Base of every error patchorch raises on purpose."""

    def __init__(self, message: str, **context: object) -> None:
        super().__init__(message)
        self.message = message
        self.context: dict[str, object] = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        return self.message


class InputError(PatchorchError):
    """Bad input from a person. Nothing ran; nothing recorded was changed."""


class Problem:
    """One validation problem: where it is, what was found and what is allowed."""

    __slots__ = ("allowed", "field", "file", "host", "hosts", "line", "message", "value")

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        host: str | None = None,
        field: str | None = None,
        value: object = None,
        allowed: str | None = None,
        line: int | None = None,
        hosts: Sequence[str] = (),
    ) -> None:
        self.message = message
        self.file = file
        self.host = host
        # Every host the problem concerns when one value (set for a group) is wrong on many; `host` is the first.
        self.hosts = tuple(hosts) or ((host,) if host else ())
        self.field = field
        self.value = value
        self.allowed = allowed
        self.line = line

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.host:
            others = len(self.hosts) - 1
            where.append(
                f"host {self.host}" + (f" (and {others} other host{'s' if others > 1 else ''})" if others > 0 else "")
            )
        if self.field:
            where.append(self.field)
        text = ": ".join([", ".join(where), self.message]) if where else self.message
        if self.allowed:
            text += f" (allowed: {self.allowed})"
        return text

    def __repr__(self) -> str:
        return f"Problem({str(self)!r})"

    def as_dict(self) -> dict[str, object]:
        """The problem as data for `--json` on error: every field, None where unknown (values as declared)."""
        return {
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "host": self.host,
            "hosts": list(self.hosts),
            "field": self.field,
            "value": self.value,
            "allowed": self.allowed,
            "text": str(self),
        }


class ProblemsError(InputError):
    """Input that failed validation in one or more places; `problems` lists each, the message names the first."""

    def __init__(self, problems: Sequence[Problem], *, summary: str | None = None) -> None:
        if not problems:
            raise ValueError("ProblemsError needs at least one problem")
        self.problems = tuple(problems)
        self.summary = summary
        first = str(self.problems[0])
        more = len(self.problems) - 1
        message = summary + ": " + first if summary else first
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        super().__init__(message, file=self.problems[0].file, host=self.problems[0].host, field=self.problems[0].field)


class InventoryError(ProblemsError):
    """An inventory Ansible cannot read, or patchorch_* metadata that does not validate."""


class PolicyError(ProblemsError):
    """A policy file that does not parse or validate."""


class AdvisoryError(ProblemsError):
    """A CSAF, KEV or OSV document that does not parse or validate."""


class ConfigError(ProblemsError):
    """patchorch.yml, PATCHORCH_* variables or flags that contradict each other or do not validate."""


class PlanError(InputError):
    """Inputs that cannot make a plan, or a stored plan that does not match its inputs."""


class RenderError(PatchorchError):
    """A template failed, or rendered content does not re-parse into the structure we expect."""


class ExecutionError(PatchorchError):
    """ansible-runner could not run a stage at all. A host that fails is data (HostOutcome), never this."""


class SourceError(PatchorchError):
    """An advisory source could not be fetched, or a document's hash or OpenPGP signature does not verify."""


class StoreError(PatchorchError):
    """The state store cannot be opened, migrated or written."""


class AuditChainError(StoreError):
    """The audit log's hash chain does not verify: a record was edited, removed or reordered."""


class RunStateError(PatchorchError):
    """An operation the run's current state does not allow (resume a finished run, approve a stage twice)."""


class HostClaimedError(RunStateError):
    """A host is claimed by another run (or another process of this one) whose lease has not expired."""


class RunLockedError(RunStateError):
    """Another process holds the run's lock in the store and its lease has not expired (context `until`)."""

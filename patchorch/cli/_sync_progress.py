"""The progress bar of `patchorch advisories sync`, apart so that registering the command does not import the sync."""

from __future__ import annotations

from rich.progress import Progress, TaskID

from patchorch.orchestrator.advisory_sync import SourceSummary, SyncObserver


class SyncProgressBar(SyncObserver):
    """One bar per source on the terminal: documents downloaded of those that changed."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}

    def source_started(self, source: str) -> None:
        self._tasks[source] = self._progress.add_task(source, total=0)

    def documents_listed(self, source: str, count: int) -> None:
        task = self._tasks[source]
        self._progress.update(task, total=(self._progress.tasks[task].total or 0) + count)

    def document_done(self, source: str, url: str, ok: bool) -> None:
        self._progress.advance(self._tasks[source])

    def source_finished(self, summary: SourceSummary) -> None:
        task = self._tasks[summary.name]
        total = self._progress.tasks[task].total or 0
        self._progress.update(task, total=total, completed=total, description=f"{summary.name} ({summary.status})")

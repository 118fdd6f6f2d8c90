"""What the import wizard's pages share: the user's choices, the newest dry run, the
progress bar, and the one function that runs in the worker.

The dry run (``TransferService.preview_table``) is the only judge of a file: every
page shows what the newest run said, and a page whose choices changed since is
*stale* until the next run comes back. Two revision counters say which: one for how
the file is read (file, kind, encoding, delimiter, sheet, header line, date order),
one for everything (also the mapping, the value mapping, the mode and the lines left out).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol

from PySide6.QtCore import QObject, Signal, Slot

from app.services.transfer import TransferService
from app.services.transfer_model import ImportOptions, ImportPreview
from app.storage.tables import RawTable
from app.ui.jobs import BusyBar

Progress = Callable[[str, int, int], None]
KIND_NAMES = {
    "instruments": "instruments",
    "calibrations": "calibration history",
    "schedules": "check and maintenance schedules",
    "checks": "intermediate check history",
    "maintenance": "the maintenance log",
    "providers": "external providers",
    "custody": "custody history",
    "sendouts": "send-outs to providers",
}
TABLE_SUFFIXES = (".csv", ".xlsx", ".txt", ".tsv")


@dataclass(frozen=True)
class Loaded:
    """One dry run: the file as read, its column names and layout key, the preview."""

    table: RawTable
    headers: tuple[str, ...]
    key: str  # what the confirmed mapping is remembered under
    preview: ImportPreview
    read_revision: int
    check_revision: int


@dataclass
class ImportState:
    """Everything the user chose in the wizard, and the newest dry run."""

    kind: str = "instruments"
    path: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_line: int | None = None
    date_order: str = "auto"
    overrides: dict[str, str] = field(default_factory=dict)  # header -> field ("" = left out)
    # header -> (value as written -> canonical value): the user's own value mapping
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    update_existing: bool = False
    keep_status: bool = False
    inconsistent: Literal["flag", "leave_out"] = "flag"
    excluded: frozenset[int] = frozenset()
    read_revision: int = 0
    check_revision: int = 0
    loaded: Loaded | None = None
    error: str = ""  # why the newest run failed (shown on the page until the next one)
    result: ImportPreview | None = None  # the commit's result: the import is done

    # -- changes (each makes the newest run stale) -----------------------------------

    def _read_changed(self) -> None:
        self.read_revision += 1
        self.check_revision += 1

    def set_file(self, path: str, kind: str) -> None:
        if (path, kind) == (self.path, self.kind):
            return
        self.overrides = {}
        self.values = {}
        self.excluded = frozenset()
        if path != self.path:
            # Another file: detect everything afresh.
            self.encoding = self.delimiter = self.sheet = None
            self.header_line = None
            self.date_order = "auto"
        self.path, self.kind = path, kind
        self._read_changed()

    def set_reading(self, **values: object) -> None:
        """encoding, delimiter, sheet, header_line or date_order."""
        changed = {k: v for k, v in values.items() if getattr(self, k) != v}
        if not changed:
            return
        for name, value in changed.items():
            setattr(self, name, value)
        if set(changed) - {"date_order"}:
            # Other rows, maybe other lines: the ticks no longer point at the same rows.
            self.excluded = frozenset()
        self._read_changed()

    def set_override(self, header: str, field_name: str) -> None:
        if self.overrides.get(header) == field_name:
            return
        self.overrides[header] = field_name
        # The column now feeds another field (or none): its values mean something else.
        self.values.pop(header, None)
        self.check_revision += 1

    def set_value(self, header: str, value: str, target: str | None) -> None:
        """What ``value`` of column ``header`` becomes (None: the user's choice is dropped,
        and CalTrack's own reading — exact, remembered, guessed or none — applies again)."""
        column = self.values.get(header, {})
        if column.get(value) == target:
            return
        if target is None:
            if value not in column:
                return
            column = {v: t for v, t in column.items() if v != value}
        else:
            column = {**column, value: target}
        if column:
            self.values[header] = column
        else:
            self.values.pop(header, None)
        self.check_revision += 1

    def set_inconsistent(self, how: Literal["flag", "leave_out"]) -> None:
        if how != self.inconsistent:
            self.inconsistent = how
            self.check_revision += 1

    def set_mode(
        self, *, update_existing: bool | None = None, keep_status: bool | None = None
    ) -> None:
        new = (
            self.update_existing if update_existing is None else update_existing,
            self.keep_status if keep_status is None else keep_status,
        )
        if new != (self.update_existing, self.keep_status):
            self.update_existing, self.keep_status = new
            self.check_revision += 1

    def set_excluded(self, lines: frozenset[int]) -> None:
        if lines != self.excluded:
            self.excluded = lines
            self.check_revision += 1

    # -- reading the state -----------------------------------------------------------

    @property
    def read_fresh(self) -> bool:
        return self.loaded is not None and self.loaded.read_revision == self.read_revision

    @property
    def check_fresh(self) -> bool:
        return self.loaded is not None and self.loaded.check_revision == self.check_revision

    @property
    def file_name(self) -> str:
        return Path(self.path).name if self.path else ""

    def options(self) -> ImportOptions:
        return ImportOptions(
            kind=self.kind,
            mapping=dict(self.overrides),
            values={h: dict(v) for h, v in self.values.items()},
            date_order=self.date_order,
            encoding=self.encoding,
            delimiter=self.delimiter,
            sheet=self.sheet,
            header_line=self.header_line,
            update_existing=self.update_existing,
            keep_status=self.keep_status,
            inconsistent=self.inconsistent,
            exclude_lines=self.excluded,
        )


def dry_run(
    transfer: TransferService,
    state: ImportState,
    memory: Mapping[str, Mapping[str, str]],
    value_memory: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
) -> Callable[[Progress], Loaded]:
    """The worker's function for the state as it is now (read on the GUI thread).

    The file is read again only when how it is read changed; the rest runs the dry run
    on the table already read.
    """
    options = state.options()
    path = Path(state.path)
    table = state.loaded.table if state.read_fresh and state.loaded is not None else None
    revisions = (state.read_revision, state.check_revision)
    remembered = {k: dict(v) for k, v in memory.items()}  # the worker's own copy
    remembered_values = {
        k: {h: dict(t) for h, t in v.items()} for k, v in (value_memory or {}).items()
    }

    def run(progress: Progress) -> Loaded:
        read = table if table is not None else transfer.read(path, options, progress)
        headers, key = transfer.layout(read, options)
        # Choices for columns this layout does not have are dropped, not refused.
        given = {h: f for h, f in options.mapping.items() if h in headers}
        values = {h: v for h, v in options.values.items() if h in headers}
        chosen = replace(
            options,
            mapping=given,
            remembered=remembered.get(key),
            values=values,
            remembered_values=remembered_values.get(key),
        )
        preview = transfer.preview_table(read, chosen, progress)
        return Loaded(read, tuple(headers), key, preview, *revisions)

    return run


class ProgressRelay(QObject):
    """Carries progress from the worker to the GUI thread (a queued signal: the relay
    lives in the GUI thread, the worker only emits)."""

    moved = Signal(int, str, int, int)  # job, phase, done, total

    def __init__(self, on_moved: Callable[[int, str, int, int], None], parent: QObject) -> None:
        super().__init__(parent)
        self._on_moved = on_moved
        self.moved.connect(self._deliver)

    @Slot(int, str, int, int)
    def _deliver(self, job: int, phase: str, done: int, total: int) -> None:
        self._on_moved(job, phase, done, total)


class ImportHost(Protocol):
    """What the pages ask of the wizard."""

    state: ImportState

    @property
    def busy(self) -> bool: ...

    @property
    def committing(self) -> bool: ...

    def add_busy_bar(self, bar: BusyBar) -> None: ...

    def stop(self) -> None: ...

    def run_check(self, then: Callable[[], None] | None = None) -> None: ...

    def next(self) -> None: ...

    def start_commit(self) -> None: ...

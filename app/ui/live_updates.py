"""Others' changes on a database server, brought to the GUI thread as they are committed.

The listener (``app.services.changes.LiveChanges``) calls back on its own thread; here a
queued Qt signal carries each notice to the GUI thread, turned into the ``Changes`` every
view already understands. On SQLite there is nothing to listen to and the window keeps
polling the audit chain head.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QObject, Signal, Slot

from app.bootstrap import CalTrack
from app.services.changes import ChangeNotice
from app.ui.tasks import Changes


def changes_of(notice: ChangeNotice) -> Changes:
    """What a view must reload for a notice (all of it when the notice cannot say)."""
    kinds = notice.kinds()
    if notice.many and not kinds:
        return Changes.everything()
    only_instruments = kinds == {"instrument"} and not notice.many
    return Changes(
        # A check-out or check-in changes who has an instrument (the register's With
        # column); a maintenance event shows in its instrument's detail pane (which the
        # register's reload refreshes), whether or not it changed the instrument itself.
        instruments=bool({"instrument", "signature", "custody", "maintenance_event"} & kinds),
        calibrations="calibration" in kinds or "signature" in kinds,
        attachments="attachment" in kinds,
        cases="oot_case" in kinds,
        accounts="user_account" in kinds,
        settings="settings" in kinds,
        # Ids of other kinds (a calibration's) are not instrument ids: then "any".
        instrument_ids=notice.changed["instrument"] if only_instruments else frozenset(),
    )


class LiveUpdates(QObject):
    """Announces others' committed writes (``arrived``) and whether it hears them.

    ``active`` is False on SQLite (no listener); ``listening`` is True while the server
    connection stands, so the window may stop polling for changes meanwhile.
    """

    arrived = Signal(object)  # Changes, on the GUI thread
    # Back after a lost connection: notices may have been missed, reload everything
    # (whether anyone wrote meanwhile is unknown, so it is not a "changed by another user").
    resumed = Signal()
    listening_changed = Signal(bool)
    # Emitted on the listener's thread; queued to this object's (the GUI) thread.
    _notice = Signal(object)
    _state = Signal(bool)

    def __init__(self, app: CalTrack, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.listening = False
        self._notice.connect(self._deliver_notice)
        self._state.connect(self._deliver_state)
        self._live = app.live_changes(self._from_listener, self._state_from_listener)

    @property
    def active(self) -> bool:
        return self._live is not None

    def stop(self) -> None:
        """Stop listening (before this object goes: nothing is posted to it after)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _from_listener(self, notice: ChangeNotice) -> None:
        if shiboken6.isValid(self):
            self._notice.emit(notice)

    def _state_from_listener(self, listening: bool) -> None:
        if shiboken6.isValid(self):
            self._state.emit(listening)

    @Slot(object)
    def _deliver_notice(self, notice: ChangeNotice) -> None:
        if notice.missed:
            self.resumed.emit()
        else:
            self.arrived.emit(changes_of(notice))

    @Slot(bool)
    def _deliver_state(self, listening: bool) -> None:
        self.listening = listening
        self.listening_changed.emit(listening)

"""LISTEN for change notices from other workstations on a dedicated connection in a thread."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

import psycopg

log = logging.getLogger(__name__)

CUSTOMERS_CHANNEL = "omnidesk_customers"


class ChangeListener:
    """Calls `on_change(payload_dict)` for each NOTIFY on `channels`, from a background thread.

    `on_state(connected: bool, message: str)` reports when the listening connection is lost and
    when it comes back; it reconnects with back-off until stopped.
    """

    def __init__(
        self,
        conninfo: str,
        channels: tuple[str, ...],
        on_change: Callable[[dict], None],
        on_state: Callable[[bool, str], None] | None = None,
    ):
        self._conninfo = conninfo
        self._channels = channels
        self._on_change = on_change
        self._on_state = on_state or (lambda connected, message: None)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="omnidesk-listen", daemon=True)

    def start(self, wait: float = 5.0) -> "ChangeListener":
        self._thread.start()
        self._ready.wait(wait)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    @property
    def listening(self) -> bool:
        return self._ready.is_set()

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, application_name="omnidesk-listen") as conn:
                    for channel in self._channels:
                        conn.execute(f"LISTEN {channel}")
                    self._ready.set()
                    self._on_state(True, "listening for changes")
                    delay = 0.5
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.5):
                            self._deliver(notice.payload)
            except psycopg.Error as exc:
                self._ready.clear()
                if self._stop.is_set():
                    break
                log.warning("change listener lost its connection: %s", exc)
                self._on_state(False, f"not receiving changes from other workstations ({str(exc).strip()})")
                self._stop.wait(delay)
                delay = min(delay * 2, 30)

    def _deliver(self, payload: str) -> None:
        try:
            data = json.loads(payload)
        except ValueError:
            log.warning("ignoring malformed change notice %r", payload)
            return
        try:
            self._on_change(data)
        except Exception:  # a faulty receiver must not kill the listener
            log.exception("change receiver failed")

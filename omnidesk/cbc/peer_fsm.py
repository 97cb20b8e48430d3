"""The life of one warning on one peer (a BSC over CBSP or an MME over SBc-AP), with per-cell results.

States (PeerWarningState) and events (PeerWarningEvent):

    INIT --WRITE--> WAIT_WRITE_ACK
    WAIT_WRITE_ACK --WRITE_ACK (some cells took it)--> ACTIVE
    WAIT_WRITE_ACK --WRITE_NACK (no cell took it)--> FAILED
    ACTIVE --REPLACE--> WAIT_REPLACE_ACK --REPLACE_ACK--> ACTIVE | --REPLACE_NACK--> FAILED
    ACTIVE --PEER_RESTART / LINK_UP after a RESET (RESEND)--> WAIT_WRITE_ACK      (the peer lost it)
    any --STOP--> WAIT_STOP_ACK --STOP_ACK--> STOPPED | --STOP_NACK--> FAILED
    WAIT_* --TIMEOUT--> TIMED_OUT      (a late answer still moves it on, as if it had come in time)
    WAIT_* --LINK_DOWN / SEND_FAILED--> FAILED
    ACTIVE, WAIT_* --INDICATION (scheduled cells, broadcasts completed, cell failure)--> same state

One operation answers per language: a warning in two languages is two broadcasts (two WRITE-REPLACEs
or two Write-Replace-Warning-Requests), and the state moves on when every one is answered. Answers are
matched by message identifier and serial number, as osmo-cbc does. Results are kept per (language,
cell): success, failure with the peer's cause, broadcasts completed.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable

from omnidesk.cbc import cbsp, sbcap
from omnidesk.cbc.pages import Page, SerialNumber
from omnidesk.cbc.period import repetition_period_from_seconds
from omnidesk.cbc.transport import CBSP

log = logging.getLogger(__name__)

__all__ = [
    "PeerWarningState", "PeerWarningEvent", "CellOutcome", "CellResult", "Broadcast", "WarningContent",
    "SbcapTarget", "PeerWarning", "cell_label", "cause_name",
]


class PeerWarningState(enum.Enum):
    INIT = "init"
    WAIT_WRITE_ACK = "wait-write-ack"
    ACTIVE = "active"
    WAIT_REPLACE_ACK = "wait-replace-ack"
    WAIT_STOP_ACK = "wait-stop-ack"
    STOPPED = "stopped"
    FAILED = "failed"
    TIMED_OUT = "timed-out"


class PeerWarningEvent(enum.Enum):
    WRITE = "write"
    REPLACE = "replace"
    RESEND = "resend"
    STOP = "stop"
    WRITE_ACK = "write-ack"
    WRITE_NACK = "write-nack"
    REPLACE_ACK = "replace-ack"
    REPLACE_NACK = "replace-nack"
    STOP_ACK = "stop-ack"
    STOP_NACK = "stop-nack"
    TIMEOUT = "timeout"
    LINK_DOWN = "link-down"
    SEND_FAILED = "send-failed"
    INDICATION = "indication"


WAITING = frozenset({PeerWarningState.WAIT_WRITE_ACK, PeerWarningState.WAIT_REPLACE_ACK,
                     PeerWarningState.WAIT_STOP_ACK})

_ACK = {PeerWarningState.WAIT_WRITE_ACK: (PeerWarningEvent.WRITE_ACK, PeerWarningEvent.WRITE_NACK),
        PeerWarningState.WAIT_REPLACE_ACK: (PeerWarningEvent.REPLACE_ACK, PeerWarningEvent.REPLACE_NACK),
        PeerWarningState.WAIT_STOP_ACK: (PeerWarningEvent.STOP_ACK, PeerWarningEvent.STOP_NACK)}


class CellOutcome(enum.Enum):
    SUCCESS = "success"
    FAILURE = "failure"
    STOPPED = "stopped"


@dataclass(frozen=True)
class CellResult:
    cell: str
    language: str | None
    outcome: CellOutcome
    cause: str | None = None
    broadcasts_completed: int | None = None


@dataclass(frozen=True)
class Broadcast:
    """One language of a warning: its own message identifier / serial number and data coding scheme."""

    language: str | None
    message_identifier: int
    serial_number: SerialNumber
    data_coding_scheme: int
    pages: tuple[Page, ...]
    text: str

    @property
    def key(self) -> tuple[int, int]:
        return self.message_identifier, self.serial_number.encoded


@dataclass(frozen=True)
class WarningContent:
    """What goes on the wire for one version (update number) of a warning."""

    broadcasts: tuple[Broadcast, ...]
    category: cbsp.Category
    repetition_period: int  # seconds, 1..4095
    number_of_broadcasts: int  # 0 = until stopped


@dataclass(frozen=True)
class SbcapTarget:
    """Where an MME should broadcast: List-of-TAIs (to pick eNBs) and/or a Warning-Area-List."""

    tracking_areas: tuple[sbcap.TrackingAreaId, ...] = ()
    warning_area: Any = None  # sbcap.CellIdList | TrackingAreaList | EmergencyAreaList


def cell_label(cell: Any) -> str:
    """A cell or area in the operator's words, stable enough to key results on."""
    if isinstance(cell, cbsp.CellGlobalId):
        return f"CGI {cell.plmn}-{cell.lac}-{cell.ci}"
    if isinstance(cell, cbsp.LacAndCi):
        return f"LAC {cell.lac} CI {cell.ci}"
    if isinstance(cell, cbsp.CellIdentity):
        return f"CI {cell.ci}"
    if isinstance(cell, cbsp.LocationAreaId):
        return f"LAI {cell.plmn}-{cell.lac}"
    if isinstance(cell, cbsp.LocationAreaCode):
        return f"LAC {cell.lac}"
    if isinstance(cell, cbsp.AllCellsOnBss):
        return "all cells"
    if isinstance(cell, sbcap.EutranCellId):
        return f"ECGI {cell}"
    if isinstance(cell, sbcap.TrackingAreaId):
        return f"TAI {cell}"
    if isinstance(cell, sbcap.NrCellId):
        return f"NCGI {cell}"
    return str(cell)


def cause_name(cause: Any) -> str:
    return cause.name.lower().replace("_", "-") if isinstance(cause, enum.Enum) else f"cause {cause}"


def _area_entries(area: Any) -> list[Any]:
    """Every cell entry of a Broadcast-Scheduled / Broadcast-Cancelled-Area-List: cells, then per TA, then per EA."""
    return list(area.cells) + [c for t in area.tracking_areas for c in t.cells] \
        + [c for e in area.emergency_areas for c in e.cells]


class PeerWarning:
    """One warning on one peer. Its coroutines run on the engine's loop; `send` is the link's send."""

    def __init__(self, warning_id: int, peer: str, protocol: str, target: Any,
                 send: Callable[[Any], Awaitable[None]], on_change: Callable[[PeerWarning, PeerWarningEvent, str], None],
                 answer_timeout: float = 10.0):
        self.warning_id = warning_id
        self.peer = peer
        self.protocol = protocol
        self.target = target  # cbsp.CellList for a BSC, SbcapTarget for an MME
        self._send = send
        self._on_change = on_change
        self.answer_timeout = answer_timeout
        self.state = PeerWarningState.INIT
        self.reason = ""
        self.content: WarningContent | None = None  # what the peer has (or is being asked to have)
        self.cells: dict[tuple[str | None, str], CellResult] = {}
        self.history: list[tuple[float, str, str, str]] = []  # (time, event, state, detail)
        self.writes_sent = 0  # WRITE-REPLACE / Write-Replace-Warning-Request PDUs, re-sends included
        self._operation: PeerWarningState | None = None  # the WAIT_* state of the operation in flight
        self._pending: dict[tuple[int, int], Broadcast] = {}
        self._installed = 0
        self._refusals: list[str] = []
        self._timer: asyncio.TimerHandle | None = None

    # -- transitions ---------------------------------------------------------------------------

    def _move(self, state: PeerWarningState, event: PeerWarningEvent, detail: str = "") -> None:
        self.state = state
        if detail and event is not PeerWarningEvent.INDICATION:
            self.reason = detail
        self.history.append((time.time(), event.value, state.value, detail))
        try:
            self._on_change(self, event, detail)
        except Exception:
            log.exception("warning %s on %s: listener failed", self.warning_id, self.peer)

    @property
    def settled(self) -> bool:
        return self.state not in WAITING

    @property
    def installed(self) -> bool:
        return self.state in (PeerWarningState.ACTIVE, PeerWarningState.WAIT_REPLACE_ACK)

    def restore(self, content: WarningContent, state: PeerWarningState, reason: str,
                cells: tuple[CellResult, ...], writes_sent: int) -> None:
        """Take up where a previous run of the centre left this warning on this peer (as recorded).
        An operation that was in flight then has lost its answer: it counts as timed out."""
        self.content = content
        self.cells = {(c.language, c.cell): c for c in cells}
        self.writes_sent = writes_sent
        if state in WAITING:
            self._operation = state
            state, reason = PeerWarningState.TIMED_OUT, f"the centre restarted before the peer answered ({state.value})"
        self.state = state
        self.reason = reason
        self.history.append((time.time(), "restore", state.value, reason))

    # -- operations ----------------------------------------------------------------------------

    async def write(self, content: WarningContent) -> None:
        self.content = content
        await self._start(PeerWarningState.WAIT_WRITE_ACK, PeerWarningEvent.WRITE,
                          [(b, self._write_pdu(content, b, None)) for b in content.broadcasts])

    async def resend(self, why: str) -> None:
        """The peer lost the warning (RESTART, PWS-Restart-Indication, RESET after reconnect): write it again."""
        if self.content is None:
            return
        await self._start(PeerWarningState.WAIT_WRITE_ACK, PeerWarningEvent.RESEND,
                          [(b, self._write_pdu(self.content, b, None)) for b in self.content.broadcasts], why)

    async def replace(self, content: WarningContent) -> None:
        old = self.content
        installed = self.installed or (self.state is PeerWarningState.TIMED_OUT and
                                       self._operation is not PeerWarningState.WAIT_STOP_ACK and self._installed)
        self.content = content
        items = []
        for broadcast in content.broadcasts:
            previous = None
            if installed and old is not None:
                previous = next((b.serial_number for b in old.broadcasts
                                 if b.language == broadcast.language
                                 and b.message_identifier == broadcast.message_identifier), None)
            items.append((broadcast, self._write_pdu(content, broadcast, previous)))
        await self._start(PeerWarningState.WAIT_REPLACE_ACK, PeerWarningEvent.REPLACE, items)

    async def stop(self) -> None:
        if self.content is None:
            self._move(PeerWarningState.STOPPED, PeerWarningEvent.STOP_ACK, "nothing was sent")
            return
        await self._start(PeerWarningState.WAIT_STOP_ACK, PeerWarningEvent.STOP,
                          [(b, self._stop_pdu(b)) for b in self.content.broadcasts])

    async def _start(self, waiting: PeerWarningState, event: PeerWarningEvent,
                     items: list[tuple[Broadcast, Any]], detail: str = "") -> None:
        self._cancel_timer()
        self._operation = waiting
        self._pending = {broadcast.key: broadcast for broadcast, _ in items}
        self._installed = 0
        self._refusals = []
        self._move(waiting, event, detail or f"{len(items)} PDU(s) sent")
        self._timer = asyncio.get_running_loop().call_later(self.answer_timeout, self._timed_out)
        for _broadcast, pdu in items:
            try:
                await self._send(pdu)
            except (ConnectionError, OSError) as exc:  # LinkDownError, ConnectionClosed
                if self._operation is waiting:
                    self._cancel_timer()
                    self._pending = {}
                    self._move(PeerWarningState.FAILED, PeerWarningEvent.SEND_FAILED, f"not sent: {exc}")
                return
            if waiting is not PeerWarningState.WAIT_STOP_ACK:
                self.writes_sent += 1

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.state in WAITING and self._pending:
            names = ", ".join(b.language or "-" for b in self._pending.values())
            self._move(PeerWarningState.TIMED_OUT, PeerWarningEvent.TIMEOUT,
                       f"no answer within {self.answer_timeout:g} s ({self._operation.value if self._operation else ''}; "
                       f"languages without answer: {names})")

    def link_down(self, reason: str) -> None:
        if self.state in WAITING:
            self._cancel_timer()
            self._pending = {}
            what = self.state.value.replace("wait-", "").replace("-ack", "")
            self._move(PeerWarningState.FAILED, PeerWarningEvent.LINK_DOWN, f"link lost before the {what} was answered: {reason}")

    # -- answers -------------------------------------------------------------------------------

    def handle(self, message: Any) -> bool:
        """Apply an answer or indication from the peer; False if it is not about this warning."""
        if self.content is None:
            return False
        if self.protocol == CBSP:
            return self._handle_cbsp(message)
        return self._handle_sbcap(message)

    def _take(self, key: tuple[int, int], kinds: tuple[PeerWarningState, ...]) -> Broadcast | None:
        if self._operation not in kinds or key not in self._pending:
            return None
        if self.state not in WAITING and self.state is not PeerWarningState.TIMED_OUT:
            return None
        return self._pending.pop(key)

    def _result(self, language: str | None, cell: str, outcome: CellOutcome, cause: str | None = None,
                completed: int | None = None) -> None:
        previous = self.cells.get((language, cell))
        if completed is None and previous is not None and outcome is not CellOutcome.FAILURE:
            completed = previous.broadcasts_completed
        self.cells[(language, cell)] = CellResult(cell, language, outcome, cause, completed)

    def _mark_stopped(self, language: str | None) -> None:
        """The peer stopped this language's broadcast: its cells that took it now show STOPPED."""
        for key, result in list(self.cells.items()):
            if key[0] == language and result.outcome is CellOutcome.SUCCESS:
                self.cells[key] = replace(result, outcome=CellOutcome.STOPPED)

    def _completed(self, language: str | None, completed: Any, outcome: CellOutcome | None = None) -> None:
        if completed is None:
            return
        for entry in completed.entries:
            label = cell_label(entry.cell)
            count = entry.count if entry.info is cbsp.BroadcastsCompletedInfo.VALID else None
            previous = self.cells.get((language, label))
            self._result(language, label, outcome or (previous.outcome if previous else CellOutcome.SUCCESS),
                         previous.cause if previous else None, count)

    def _handle_cbsp(self, message: Any) -> bool:
        write_kinds = (PeerWarningState.WAIT_WRITE_ACK, PeerWarningState.WAIT_REPLACE_ACK)
        if isinstance(message, (cbsp.WriteReplaceComplete, cbsp.WriteReplaceFailure)):
            broadcast = self._take((message.message_id, message.new_serial_number.encoded), write_kinds)
            if broadcast is None:
                return False
            language = broadcast.language
            ok_cells = message.cell_list.cells if message.cell_list is not None else ()
            if message.cell_list is not None and message.cell_list.kind is cbsp.CellIdKind.ALL_CELLS_ON_BSS:
                ok_cells = (cbsp.AllCellsOnBss(),)
            if isinstance(message, cbsp.WriteReplaceComplete) and message.cell_list is None:
                ok_cells = (cbsp.AllCellsOnBss(),)
            for cell in ok_cells:
                self._result(language, cell_label(cell), CellOutcome.SUCCESS)
            self._completed(language, message.broadcasts_completed)
            failures = message.failure_list if isinstance(message, cbsp.WriteReplaceFailure) else ()
            for failure in failures:
                self._result(language, cell_label(failure.cell), CellOutcome.FAILURE, cause_name(failure.cause))
            if ok_cells:
                self._installed += 1
            if failures:
                causes = sorted({cause_name(f.cause) for f in failures})
                self._refusals.append(f"{language or 'text'}: {len(failures)} cell(s) refused ({', '.join(causes)})")
            self._maybe_finish()
            return True
        if isinstance(message, (cbsp.KillComplete, cbsp.KillFailure)):
            broadcast = self._take((message.message_id, message.old_serial_number.encoded),
                                   (PeerWarningState.WAIT_STOP_ACK,))
            if broadcast is None:
                return False
            language = broadcast.language
            self._completed(language, message.broadcasts_completed, CellOutcome.STOPPED)
            if message.cell_list is not None:
                for cell in message.cell_list.cells:
                    self._result(language, cell_label(cell), CellOutcome.STOPPED)  # keeps the completed count
            if isinstance(message, cbsp.KillComplete):
                self._mark_stopped(language)
            if isinstance(message, cbsp.KillFailure):
                real = [f for f in message.failure_list if f.cause != cbsp.Cause.MESSAGE_REFERENCE_NOT_IDENTIFIED]
                for failure in message.failure_list:
                    self._result(language, cell_label(failure.cell), CellOutcome.FAILURE, cause_name(failure.cause))
                if real:
                    causes = sorted({cause_name(f.cause) for f in real})
                    self._refusals.append(f"{language or 'text'}: KILL refused in {len(real)} cell(s) "
                                          f"({', '.join(causes)})")
            self._maybe_finish()
            return True
        if isinstance(message, (cbsp.MessageStatusQueryComplete, cbsp.MessageStatusQueryFailure)):
            broadcast = next((b for b in self.content.broadcasts
                              if b.key == (message.message_id, message.old_serial_number.encoded)), None)
            if broadcast is None:
                return False
            self._completed(broadcast.language, message.broadcasts_completed)
            self._move(self.state, PeerWarningEvent.INDICATION, "broadcasts completed reported")
            return True
        return False

    def _handle_sbcap(self, message: Any) -> bool:
        key = None
        if hasattr(message, "message_identifier") and hasattr(message, "serial_number"):
            key = (message.message_identifier, message.serial_number.encoded)
        if isinstance(message, sbcap.WriteReplaceWarningResponse):
            broadcast = self._take(key, (PeerWarningState.WAIT_WRITE_ACK, PeerWarningState.WAIT_REPLACE_ACK))
            if broadcast is None:
                return False
            for tai in message.unknown_tracking_areas:
                self._result(broadcast.language, cell_label(tai), CellOutcome.FAILURE,
                             cause_name(sbcap.Cause.TRACKING_AREA_NOT_VALID))
            if message.accepted:
                self._installed += 1
            else:
                self._refusals.append(f"{broadcast.language or 'text'}: refused ({cause_name(message.cause)})")
            self._maybe_finish()
            return True
        if isinstance(message, sbcap.StopWarningResponse):
            broadcast = self._take(key, (PeerWarningState.WAIT_STOP_ACK,))
            if broadcast is None:
                return False
            if not message.accepted and message.cause != sbcap.Cause.VALID_MESSAGE_NOT_IDENTIFIED:
                self._refusals.append(f"{broadcast.language or 'text'}: stop refused ({cause_name(message.cause)})")
            else:
                self._mark_stopped(broadcast.language)
            self._maybe_finish()
            return True
        broadcast = next((b for b in self.content.broadcasts if b.key == key), None) if key else None
        if isinstance(message, sbcap.WriteReplaceWarningIndication) and broadcast is not None:
            area = message.broadcast_scheduled_area_list
            if area is not None:
                for cell in _area_entries(area):
                    self._result(broadcast.language, cell_label(cell), CellOutcome.SUCCESS)
            self._move(self.state, PeerWarningEvent.INDICATION, "broadcast scheduled")
            return True
        if isinstance(message, sbcap.StopWarningIndication) and broadcast is not None:
            area = message.broadcast_cancelled_area_list
            if area is not None:
                for entry in _area_entries(area):
                    self._result(broadcast.language, cell_label(entry.cell), CellOutcome.STOPPED, None,
                                 entry.number_of_broadcasts)
            self._move(self.state, PeerWarningEvent.INDICATION, "broadcast cancelled")
            return True
        return False

    def cells_failed(self, cells: list[Any], cause: str) -> None:
        """PWS-Failure-Indication / CBSP FAILURE: these cells can no longer broadcast."""
        if self.content is None:
            return
        for broadcast in self.content.broadcasts:
            for cell in cells:
                self._result(broadcast.language, cell_label(cell), CellOutcome.FAILURE, cause)
        self._move(self.state, PeerWarningEvent.INDICATION, f"{len(cells)} cell(s) failed: {cause}")

    def _maybe_finish(self) -> None:
        if self._pending:
            if self.state in WAITING or self.state is PeerWarningState.TIMED_OUT:
                self._move(self.state, PeerWarningEvent.INDICATION, "answer received")
            return
        self._cancel_timer()
        operation = self._operation
        self._operation = None
        ack, nack = _ACK[operation]  # type: ignore[index]
        refused = "; ".join(self._refusals)
        if operation is PeerWarningState.WAIT_STOP_ACK:
            if self._refusals:
                self._move(PeerWarningState.FAILED, nack, refused)
            else:
                self._move(PeerWarningState.STOPPED, ack, "stopped")
        elif self._installed:
            self._move(PeerWarningState.ACTIVE, ack, refused or "acknowledged")
        else:
            self._move(PeerWarningState.FAILED, nack, refused or "refused")

    # -- PDUs ----------------------------------------------------------------------------------

    def _write_pdu(self, content: WarningContent, broadcast: Broadcast, old_serial: SerialNumber | None) -> Any:
        if self.protocol == CBSP:
            return cbsp.WriteReplace(
                message_id=broadcast.message_identifier, new_serial_number=broadcast.serial_number,
                cell_list=self.target, repetition_period=repetition_period_from_seconds(content.repetition_period),
                number_of_broadcasts_requested=content.number_of_broadcasts,
                data_coding_scheme=broadcast.data_coding_scheme, pages=broadcast.pages, category=content.category,
                old_serial_number=old_serial)
        period, extended = sbcap.repetition_period_fields(content.repetition_period)
        target: SbcapTarget = self.target
        return sbcap.WriteReplaceWarningRequest(
            broadcast.message_identifier, broadcast.serial_number, period, content.number_of_broadcasts,
            tracking_areas=target.tracking_areas, warning_area=target.warning_area,
            extended_repetition_period=extended, data_coding_scheme=broadcast.data_coding_scheme,
            warning_message_content=broadcast.pages, concurrent_warning_message_indicator=True,
            send_write_replace_warning_indication=True)

    def _stop_pdu(self, broadcast: Broadcast) -> Any:
        if self.protocol == CBSP:
            # With no Channel Indicator osmo-bsc takes a KILL to be about an ETWS emergency message and
            # answers message-reference-not-identified; a CBS message is on the basic channel.
            return cbsp.Kill(broadcast.message_identifier, broadcast.serial_number, self.target,
                             cbsp.ChannelIndicator.BASIC)
        target: SbcapTarget = self.target
        return sbcap.StopWarningRequest(broadcast.message_identifier, broadcast.serial_number,
                                        tracking_areas=target.tracking_areas, warning_area=target.warning_area,
                                        send_stop_warning_indication=True)

    def pdus_for(self, content: WarningContent) -> list[Any]:
        """The write PDUs this peer would get (the engine encodes them to validate input before sending)."""
        return [self._write_pdu(content, b, None) for b in content.broadcasts]

    def snapshot_cells(self) -> tuple[CellResult, ...]:
        return tuple(sorted(self.cells.values(), key=lambda r: (r.language or "", r.cell)))


"""Simulated peers for demos, tests and benchmarks: a BSC speaking CBSP and an MME speaking SBc-AP.

BscSimulator: TCP server (the TS 48.049 default) or client (as osmo-bsc's `cbc / mode client`), or the
in-memory transport. Like osmo-bsc it sends RESTART (data lost) when a CBC connects, answers RESET,
KEEP-ALIVE, WRITE-REPLACE (COMPLETE, or FAILURE for the cells told to fail, with their causes) and KILL
(with broadcasts completed per cell, counted from the time the message was written).

MmeSimulator: SBc-AP over the in-memory transport (SCTP where the kernel has it): answers
Write-Replace-Warning and Stop-Warning, reports scheduled cells and cancelled cells with broadcasts
done, rejects unknown tracking areas, and sends PWS-Restart-Indication / PWS-Failure-Indication on demand.

Fault modes on both: `silent` (never answers a warning), `drop_on_write` (closes the connection when a
warning arrives), and for the BSC `answer_keepalive=False`.
Simulators are asyncio objects: run them on a loop of their own (engine.BackgroundLoop) or the test's.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

from omnidesk.cbc import cbsp, sbcap
from omnidesk.cbc.period import REPETITION_PERIOD_UNIT_SECONDS, RepetitionPeriodLayout
from omnidesk.cbc.transport import (
    CBSP,
    SBCAP,
    ConnectionClosed,
    DecodeFailure,
    Listener,
    MemoryNetwork,
    PeerConnection,
    TransportError,
    connect,
    listen,
)

log = logging.getLogger(__name__)

__all__ = ["BscSimulator", "MmeSimulator", "default_bsc_cells", "default_mme_cells"]

_PLMN_GSM = cbsp.Plmn("901", "70")
_PLMN_LTE = cbsp.Plmn("001", "01")


def default_bsc_cells(count: int = 2, lac: int = 23, first_ci: int = 42) -> tuple[cbsp.CellGlobalId, ...]:
    return tuple(cbsp.CellGlobalId(_PLMN_GSM, lac, first_ci + i) for i in range(count))


def default_mme_cells(count: int = 2, tac: int = 1, enb_id: int = 1) -> tuple[tuple[sbcap.EutranCellId, sbcap.TrackingAreaId], ...]:
    tai = sbcap.TrackingAreaId(_PLMN_LTE, tac)
    return tuple((sbcap.EutranCellId(_PLMN_LTE, (enb_id << 8) | (i + 1)), tai) for i in range(count))


def _count(written_at: float, period_seconds: float, requested: int) -> int:
    done = 1 + math.floor((time.monotonic() - written_at) / max(period_seconds, 1e-3))
    return min(done, requested) if requested else done


class _Peer:
    """What both simulators share: a listener or a connect loop, the current connection, a log of messages."""

    protocol = CBSP

    def __init__(self, name: str, role: str, host: str, port: int | str, transport: str,
                 network: MemoryNetwork | None, layout: RepetitionPeriodLayout):
        self.name = name
        self.role = role
        self.host = host
        self.port = port
        self.transport = transport
        self.network = network
        self.layout = layout
        self.received: list[Any] = []
        self.connections = 0
        self._connection: PeerConnection | None = None
        self._listener: Listener | None = None
        self._tasks: set[asyncio.Task] = set()
        self._stopped = False
        self.silent = False
        self.drop_on_write = False

    @property
    def address(self) -> tuple:
        return tuple(self._listener.address) if self._listener is not None else (self.host, self.port)

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.closed

    async def start(self) -> None:
        self._stopped = False
        if self.role == "server":
            self._listener = await listen(self.protocol, self.transport, self.host, self.port, self._accepted,
                                          layout=self.layout, network=self.network)
        else:
            self._spawn(self._connect_forever())

    async def stop(self) -> None:
        self._stopped = True
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._connection is not None:
            self._connection.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _accepted(self, connection: PeerConnection) -> None:
        if self._stopped:
            connection.close()
            return
        if self._connection is not None:
            self._connection.close()  # a new CBC association replaces the old one
        self._spawn(self._serve(connection))

    async def _connect_forever(self) -> None:
        while not self._stopped:
            try:
                connection = await connect(self.protocol, self.transport, self.host, self.port, layout=self.layout,
                                           network=self.network)
            except (OSError, TransportError):
                await asyncio.sleep(0.05)
                continue
            await self._serve(connection)
            await asyncio.sleep(0.05)

    async def _serve(self, connection: PeerConnection) -> None:
        self._connection = connection
        self.connections += 1
        try:
            await self.connected_hook(connection)
            while True:
                message = await connection.receive()
                if isinstance(message, DecodeFailure):
                    log.warning("%s: undecodable message: %s", self.name, message.error)
                    if message.fatal:
                        return
                    continue
                self.received.append(message)
                await self.handle(connection, message)
        except ConnectionClosed:
            pass
        finally:
            connection.close()
            if self._connection is connection:
                self._connection = None

    async def connected_hook(self, connection: PeerConnection) -> None:
        pass

    async def handle(self, connection: PeerConnection, message: Any) -> None:
        raise NotImplementedError

    async def _send(self, message: Any) -> bool:
        connection = self._connection
        if connection is None:
            return False
        try:
            await connection.send(message)
            return True
        except ConnectionClosed:
            return False

    def received_of(self, kind: type) -> list[Any]:
        return [m for m in self.received if isinstance(m, kind)]


class BscSimulator(_Peer):
    protocol = CBSP

    def __init__(self, name: str = "bsc", cells: tuple[cbsp.CellGlobalId, ...] | None = None, *, role: str = "server",
                 host: str = "127.0.0.1", port: int | str = 0, transport: str = "tcp",
                 network: MemoryNetwork | None = None,
                 layout: RepetitionPeriodLayout = RepetitionPeriodLayout.OSMOCOM,
                 failing_cells: dict[cbsp.CellGlobalId, cbsp.Cause] | None = None, silent: bool = False,
                 drop_on_write: bool = False, answer_keepalive: bool = True, restart_on_connect: bool = True,
                 broadcasts_completed: int | None = None):
        super().__init__(name, role, host, port, transport, network, layout)
        self.cells = tuple(cells) if cells is not None else default_bsc_cells()
        self.failing_cells = dict(failing_cells or {})
        self.silent = silent
        self.drop_on_write = drop_on_write
        self.answer_keepalive = answer_keepalive
        self.restart_on_connect = restart_on_connect
        self.broadcasts_completed = broadcasts_completed
        # (message id, serial) -> (WRITE-REPLACE, time written, cells broadcasting it)
        self.installed: dict[tuple[int, int], tuple[cbsp.WriteReplace, float, tuple[cbsp.CellGlobalId, ...]]] = {}

    async def connected_hook(self, connection: PeerConnection) -> None:
        if self.restart_on_connect:  # as osmo-bsc does on every new CBC connection (cbc-protocols.md §3.5)
            await connection.send(cbsp.Restart(cbsp.CellList.whole_bss(), cbsp.BroadcastMessageType.CBS,
                                               cbsp.RecoveryIndication.DATA_LOST))

    async def restart(self, recovery: cbsp.RecoveryIndication = cbsp.RecoveryIndication.DATA_LOST) -> bool:
        """The BSC restarted: everything it broadcast is gone (with DATA_LOST); tell the CBC."""
        if recovery == cbsp.RecoveryIndication.DATA_LOST:
            self.installed.clear()
        return await self._send(cbsp.Restart(cbsp.CellList.whole_bss(), cbsp.BroadcastMessageType.CBS, recovery))

    async def fail_cells(self, cells: dict[cbsp.CellGlobalId, cbsp.Cause]) -> bool:
        return await self._send(cbsp.Failure(tuple(cbsp.CellFailure(c, cause) for c, cause in cells.items()),
                                             cbsp.BroadcastMessageType.CBS))

    def _select(self, cell_list: cbsp.CellList) -> tuple[list[cbsp.CellGlobalId], list[Any]]:
        if cell_list.kind is cbsp.CellIdKind.ALL_CELLS_ON_BSS:
            return list(self.cells), []
        chosen: list[cbsp.CellGlobalId] = []
        unknown: list[Any] = []
        for wanted in cell_list.cells:
            if isinstance(wanted, cbsp.CellGlobalId):
                hits = [c for c in self.cells if c == wanted]
            elif isinstance(wanted, cbsp.LacAndCi):
                hits = [c for c in self.cells if (c.lac, c.ci) == (wanted.lac, wanted.ci)]
            elif isinstance(wanted, cbsp.CellIdentity):
                hits = [c for c in self.cells if c.ci == wanted.ci]
            elif isinstance(wanted, cbsp.LocationAreaId):
                hits = [c for c in self.cells if (c.plmn, c.lac) == (wanted.plmn, wanted.lac)]
            else:
                hits = [c for c in self.cells if c.lac == wanted.lac]
            if hits:
                chosen.extend(h for h in hits if h not in chosen)
            else:
                unknown.append(wanted)
        return chosen, unknown

    async def handle(self, connection: PeerConnection, message: Any) -> None:
        if isinstance(message, cbsp.Reset):
            self.installed.clear()
            await connection.send(cbsp.ResetComplete(message.cell_list))
        elif isinstance(message, cbsp.KeepAlive):
            if self.answer_keepalive:
                await connection.send(cbsp.KeepAliveComplete())
        elif isinstance(message, cbsp.WriteReplace):
            if self.drop_on_write:
                connection.close()
                return
            if self.silent:
                return
            await connection.send(self._write(message))
        elif isinstance(message, cbsp.Kill):
            if self.silent:
                return
            await connection.send(self._kill(message))

    def _write(self, message: cbsp.WriteReplace) -> Any:
        cells, unknown = self._select(message.cell_list)
        failures = [cbsp.CellFailure(c, self.failing_cells[c]) for c in cells if c in self.failing_cells]
        failures += [cbsp.CellFailure(u, cbsp.Cause.CELL_IDENTITY_NOT_VALID) for u in unknown]
        ok = tuple(c for c in cells if c not in self.failing_cells)
        if message.old_serial_number is not None:
            self.installed.pop((message.message_id, message.old_serial_number.encoded), None)
        if ok:
            self.installed[(message.message_id, message.new_serial_number.encoded)] = (message, time.monotonic(), ok)
        cell_list = cbsp.CellList.of(*ok) if ok else None
        if failures:
            return cbsp.WriteReplaceFailure(message.message_id, message.new_serial_number, tuple(failures),
                                            message.old_serial_number, cell_list=cell_list,
                                            channel_indicator=cbsp.ChannelIndicator.BASIC)
        return cbsp.WriteReplaceComplete(message.message_id, message.new_serial_number, message.old_serial_number,
                                         cell_list=cell_list, channel_indicator=cbsp.ChannelIndicator.BASIC)

    def _kill(self, message: cbsp.Kill) -> Any:
        entry = self.installed.pop((message.message_id, message.old_serial_number.encoded), None)
        if entry is None:
            cells, _ = self._select(message.cell_list)
            return cbsp.KillFailure(message.message_id, message.old_serial_number,
                                    tuple(cbsp.CellFailure(c, cbsp.Cause.MESSAGE_REFERENCE_NOT_IDENTIFIED)
                                          for c in (cells or self.cells)))
        written, at, cells = entry
        period = written.repetition_period * REPETITION_PERIOD_UNIT_SECONDS
        count = self.broadcasts_completed
        entries = tuple(cbsp.BroadcastsCompleted(c, count if count is not None
                                                 else _count(at, period, written.number_of_broadcasts_requested))
                        for c in cells)
        return cbsp.KillComplete(message.message_id, message.old_serial_number,
                                 cbsp.BroadcastsCompletedList(cbsp.CellIdKind.CGI, entries),
                                 channel_indicator=cbsp.ChannelIndicator.BASIC)


class MmeSimulator(_Peer):
    protocol = SBCAP

    def __init__(self, name: str = "mme", cells: tuple[tuple[sbcap.EutranCellId, sbcap.TrackingAreaId], ...] | None = None,
                 *, network: MemoryNetwork | None = None, host: str | None = None, port: int | str = sbcap.SCTP_PORT,
                 transport: str = "memory", role: str = "server", enb_id: int = 1,
                 reject_cause: sbcap.Cause | None = None, failing_tracking_areas: tuple[sbcap.TrackingAreaId, ...] = (),
                 silent: bool = False, drop_on_write: bool = False):
        super().__init__(name, role, host or name, port, transport, network, RepetitionPeriodLayout.OSMOCOM)
        self.cells = tuple(cells) if cells is not None else default_mme_cells(enb_id=enb_id)
        self.enb_id = enb_id
        self.reject_cause = reject_cause
        self.failing_tracking_areas = tuple(failing_tracking_areas)
        self.silent = silent
        self.drop_on_write = drop_on_write
        self.installed: dict[tuple[int, int], tuple[sbcap.WriteReplaceWarningRequest, float, tuple[sbcap.EutranCellId, ...]]] = {}

    @property
    def tracking_areas(self) -> tuple[sbcap.TrackingAreaId, ...]:
        return tuple(dict.fromkeys(tai for _, tai in self.cells))

    def _global_enb(self) -> sbcap.GlobalEnbId:
        return sbcap.GlobalEnbId(self.cells[0][0].plmn if self.cells else _PLMN_LTE, self.enb_id)

    async def restart(self) -> bool:
        """eNB cells restarted and lost their warnings: PWS-Restart-Indication to the CBC."""
        self.installed.clear()
        return await self._send(sbcap.PwsRestartIndication(tuple(c for c, _ in self.cells), self._global_enb(),
                                                           self.tracking_areas))

    async def fail_cells(self, cells: tuple[sbcap.EutranCellId, ...]) -> bool:
        return await self._send(sbcap.PwsFailureIndication(tuple(cells), self._global_enb()))

    def _select(self, message: Any) -> tuple[list[sbcap.EutranCellId], list[sbcap.TrackingAreaId]]:
        area = message.warning_area
        mine = self.tracking_areas
        if isinstance(area, sbcap.CellIdList):
            return [c for c, _ in self.cells if c in area.cells], []
        tais = area.tracking_areas if isinstance(area, sbcap.TrackingAreaList) else message.tracking_areas
        if not tais:
            unknown: list[sbcap.TrackingAreaId] = []
            wanted = set(mine)
        else:
            unknown = [t for t in tais if t not in mine]
            wanted = {t for t in tais if t in mine}
        unknown += [t for t in self.failing_tracking_areas if t in wanted]
        wanted -= set(self.failing_tracking_areas)
        return [c for c, t in self.cells if t in wanted], unknown

    async def handle(self, connection: PeerConnection, message: Any) -> None:
        if isinstance(message, sbcap.WriteReplaceWarningRequest):
            if self.drop_on_write:
                connection.close()
                return
            if self.silent:
                return
            key = (message.message_identifier, message.serial_number.encoded)
            if self.reject_cause is not None:
                await connection.send(sbcap.WriteReplaceWarningResponse(*key[:1], message.serial_number,
                                                                        self.reject_cause))
                return
            cells, unknown = self._select(message)
            for old in [k for k in self.installed if k[0] == message.message_identifier]:
                del self.installed[old]  # same identifier, new serial number: a replace
            if cells:
                self.installed[key] = (message, time.monotonic(), tuple(cells))
            await connection.send(sbcap.WriteReplaceWarningResponse(
                message.message_identifier, message.serial_number,
                sbcap.Cause.MESSAGE_ACCEPTED if cells or not unknown else sbcap.Cause.TRACKING_AREA_NOT_VALID,
                unknown_tracking_areas=tuple(unknown)))
            if message.send_write_replace_warning_indication and cells:
                await connection.send(sbcap.WriteReplaceWarningIndication(
                    message.message_identifier, message.serial_number,
                    sbcap.BroadcastScheduledAreaList(cells=tuple(cells))))
        elif isinstance(message, sbcap.StopWarningRequest):
            if self.silent:
                return
            key = (message.message_identifier, message.serial_number.encoded)
            entry = self.installed.pop(key, None)
            cause = sbcap.Cause.MESSAGE_ACCEPTED if entry else sbcap.Cause.VALID_MESSAGE_NOT_IDENTIFIED
            await connection.send(sbcap.StopWarningResponse(message.message_identifier, message.serial_number, cause))
            if entry is not None and message.send_stop_warning_indication:
                written, at, cells = entry
                count = _count(at, written.repetition_period_seconds or 1, written.number_of_broadcasts_requested)
                await connection.send(sbcap.StopWarningIndication(
                    message.message_identifier, message.serial_number,
                    sbcap.BroadcastCancelledAreaList(cells=tuple(sbcap.CancelledCell(c, count) for c in cells))))

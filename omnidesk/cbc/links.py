"""Per-peer link state machine: connect, CBSP RESET handshake, keep-alive, link-up / link-down, reconnect with back-off.

States (LinkState) and events (LinkEvent):

    DISABLED --START--> CONNECTING (client role)  or  LISTENING (server role: wait for the peer to connect)
    CONNECTING --CONNECTED--> RESETTING (CBSP) | UP (SBc-AP)
    CONNECTING --CONNECT_FAILED--> BACKING_OFF --BACKOFF_EXPIRED--> CONNECTING
    LISTENING --CONNECTED--> RESETTING (CBSP) | UP (SBc-AP)
    RESETTING --RESET_ANSWERED--> UP          (RESET COMPLETE or RESET FAILURE, as osmo-cbc)
    RESETTING --RESET_TIMEOUT--> link closed
    UP --KEEPALIVE_DUE--> KEEPALIVE_PENDING --KEEPALIVE_ANSWERED--> UP        (CBSP only)
    KEEPALIVE_PENDING --KEEPALIVE_TIMEOUT--> link closed
    any connected state --CONNECTION_LOST / link closed--> BACKING_OFF (client) | LISTENING (server)
    any --STOP--> DISABLED

SBc-AP has no RESET or keep-alive at the application layer: SCTP heartbeats watch the association
(osmo-cbc's sbcap_link_fsm goes straight to IDLE), so an SBc-AP link is UP as soon as it connects.
Back-off: initial * factor ** (failed attempts), capped at maximum, reset once a link has been UP; no
jitter, so tests are deterministic.

What the link does with messages: it answers KEEP-ALIVE from the BSC, consumes RESET and KEEP-ALIVE
answers, answers undecodable messages with ERROR INDICATION (closing the link when a CBSP stream is out
of step), and passes every other message (including RESTART and PWS-Restart-Indication) to its owner.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from omnidesk.cbc import cbsp, sbcap
from omnidesk.cbc.period import MAX_KEEP_ALIVE_SECONDS, RepetitionPeriodLayout, round_up_period
from omnidesk.cbc.transport import (
    CBSP,
    SBCAP,
    ConnectionClosed,
    DecodeFailure,
    MemoryNetwork,
    PeerConnection,
    SctpUnavailableError,
    TransportError,
    connect,
)

log = logging.getLogger(__name__)

__all__ = ["LinkState", "LinkEvent", "LinkTimers", "LinkOwner", "PeerLink", "LinkDownError"]


class LinkState(enum.Enum):
    DISABLED = "disabled"
    CONNECTING = "connecting"
    LISTENING = "listening"
    RESETTING = "resetting"
    UP = "up"
    KEEPALIVE_PENDING = "keepalive-pending"
    BACKING_OFF = "backing-off"


class LinkEvent(enum.Enum):
    START = "start"
    CONNECTED = "connected"
    CONNECT_FAILED = "connect-failed"
    RESET_ANSWERED = "reset-answered"
    RESET_TIMEOUT = "reset-timeout"
    KEEPALIVE_DUE = "keepalive-due"
    KEEPALIVE_ANSWERED = "keepalive-answered"
    KEEPALIVE_TIMEOUT = "keepalive-timeout"
    CONNECTION_LOST = "connection-lost"
    BACKOFF_EXPIRED = "backoff-expired"
    STOP = "stop"


UP_STATES = frozenset({LinkState.UP, LinkState.KEEPALIVE_PENDING})


@dataclass(frozen=True)
class LinkTimers:
    """Seconds. Defaults are osmo-cbc's (RESET 5 s, keep-alive every 30 s, answer within 10 s)."""

    connect_timeout: float = 5.0
    reset_timeout: float = 5.0
    keepalive_interval: float = 30.0
    keepalive_timeout: float = 10.0
    backoff_initial: float = 1.0
    backoff_factor: float = 2.0
    backoff_maximum: float = 60.0

    def backoff(self, failures: int) -> float:
        return min(self.backoff_maximum, self.backoff_initial * self.backoff_factor ** max(0, failures))


class LinkDownError(ConnectionError):
    """A message was to go to a peer whose link is not up."""


class LinkOwner(Protocol):
    """What a link tells the engine (called on the engine's event loop)."""

    def link_state_changed(self, link: PeerLink, state: LinkState, event: LinkEvent, reason: str) -> None: ...

    def link_up(self, link: PeerLink) -> None: ...

    def link_down(self, link: PeerLink, reason: str) -> None: ...

    def message_received(self, link: PeerLink, message: Any) -> None: ...


class PeerLink:
    """The link to one peer. Client role: it connects and reconnects. Server role: the engine's listener
    hands it each accepted connection through `attach`."""

    def __init__(self, name: str, protocol: str, role: str, host: str, port: int | str, transport: str,
                 owner: LinkOwner, timers: LinkTimers = LinkTimers(),
                 layout: RepetitionPeriodLayout | None = None, network: MemoryNetwork | None = None):
        self.name = name
        self.protocol = protocol
        self.role = role
        self.host = host
        self.port = port
        self.transport = transport
        self.owner = owner
        self.timers = timers
        self.layout = layout or RepetitionPeriodLayout.OSMOCOM
        self.network = network
        self.state = LinkState.DISABLED
        self.last_reason = ""
        self.remote = ""
        self.failures = 0  # connection attempts failed in a row
        self.ups = 0  # times the link came up
        self._connection: PeerConnection | None = None
        self._task: asyncio.Task | None = None
        self._serving: asyncio.Task | None = None
        self._reset_answer: asyncio.Future | None = None
        self._keepalive_answer: asyncio.Future | None = None
        self._stopped = True

    # -- state ---------------------------------------------------------------------------------

    @property
    def is_up(self) -> bool:
        return self.state in UP_STATES

    def _set(self, state: LinkState, event: LinkEvent, reason: str = "") -> None:
        if reason:
            self.last_reason = reason
        if state is self.state and event not in (LinkEvent.KEEPALIVE_ANSWERED,):
            return
        self.state = state
        try:
            self.owner.link_state_changed(self, state, event, reason)
        except Exception:  # the owner's bookkeeping must not kill the link
            log.exception("link %s: owner failed on state change", self.name)

    # -- control -------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._stopped:
            return
        self._stopped = False
        if self.role == "client":
            self._set(LinkState.CONNECTING, LinkEvent.START)
            self._task = asyncio.get_running_loop().create_task(self._run_client(), name=f"link-{self.name}")
        else:
            self._set(LinkState.LISTENING, LinkEvent.START)

    async def stop(self) -> None:
        self._stopped = True
        tasks = [t for t in (self._task, self._serving) if t is not None and not t.done()]
        if self._connection is not None:
            self._connection.close()
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._set(LinkState.DISABLED, LinkEvent.STOP, "stopped")

    def attach(self, connection: PeerConnection) -> bool:
        """Server role: take an accepted connection. Refused (False) while one is being served."""
        if self._stopped or (self._serving is not None and not self._serving.done()):
            return False
        self._serving = asyncio.get_running_loop().create_task(self._serve_and_relisten(connection),
                                                               name=f"link-{self.name}-serve")
        return True

    async def send(self, message: Any) -> None:
        connection = self._connection
        if connection is None or not self.is_up:
            raise LinkDownError(f"link to {self.name} is {self.state.value}" +
                                (f" ({self.last_reason})" if self.last_reason else ""))
        try:
            await connection.send(message)
        except ConnectionClosed as exc:
            raise LinkDownError(f"link to {self.name} lost: {exc}") from None

    # -- the client loop ------------------------------------------------------------------------

    async def _run_client(self) -> None:
        while not self._stopped:
            self._set(LinkState.CONNECTING, LinkEvent.BACKOFF_EXPIRED if self.failures else LinkEvent.START)
            try:
                connection = await asyncio.wait_for(
                    connect(self.protocol, self.transport, self.host, self.port, layout=self.layout,
                            network=self.network),
                    self.timers.connect_timeout)
            except SctpUnavailableError as exc:
                reason = str(exc)
                self.failures += 1
            except (OSError, TransportError, asyncio.TimeoutError) as exc:
                reason = f"cannot connect to {self.host}:{self.port}: {exc or type(exc).__name__}"
                self.failures += 1
            else:
                reached_up = await self._serve(connection)
                reason = self.last_reason
                if reached_up:
                    self.failures = 0
                else:
                    self.failures += 1
            if self._stopped:
                return
            delay = self.timers.backoff(self.failures - 1 if self.failures else 0)
            self._set(LinkState.BACKING_OFF, LinkEvent.CONNECT_FAILED, f"{reason}; retrying in {delay:g} s")
            await asyncio.sleep(delay)

    async def _serve_and_relisten(self, connection: PeerConnection) -> None:
        await self._serve(connection)
        if not self._stopped:
            self._set(LinkState.LISTENING, LinkEvent.CONNECTION_LOST, self.last_reason)

    # -- one connection ------------------------------------------------------------------------

    async def _serve(self, connection: PeerConnection) -> bool:
        """Run one connection to its end; True if the link came UP on it."""
        self._connection = connection
        self.remote = connection.remote
        loop = asyncio.get_running_loop()
        receiver = loop.create_task(self._receive(connection))
        supervisor = loop.create_task(self._supervise(connection))
        reason = "link closed"
        try:
            done, _ = await asyncio.wait({receiver, supervisor}, return_when=asyncio.FIRST_COMPLETED)
            finished = receiver if receiver in done else supervisor
            try:
                reason = finished.result() or reason
            except ConnectionClosed as exc:
                reason = f"connection lost: {exc}"
            except Exception as exc:  # noqa: BLE001 - a bug must show up as a link-down reason, not a crash
                log.exception("link %s failed", self.name)
                reason = f"internal error: {exc!r}"
        except asyncio.CancelledError:
            reason = "stopped"
            raise
        finally:
            reached_up = self._reached_up
            for task in (receiver, supervisor):
                task.cancel()
            connection.close()
            self._connection = None
            self.last_reason = reason
            if reached_up:
                try:
                    self.owner.link_down(self, reason)
                except Exception:
                    log.exception("link %s: owner failed on link down", self.name)
        return reached_up

    _reached_up = False

    async def _supervise(self, connection: PeerConnection) -> str:
        loop = asyncio.get_running_loop()
        self._reached_up = False
        if self.protocol == CBSP:
            self._set(LinkState.RESETTING, LinkEvent.CONNECTED, f"connected to {connection.remote}")
            self._reset_answer = loop.create_future()
            await connection.send(cbsp.Reset(cbsp.CellList.whole_bss()))
            try:
                answer = await asyncio.wait_for(self._reset_answer, self.timers.reset_timeout)
            except asyncio.TimeoutError:
                self._set(LinkState.RESETTING, LinkEvent.RESET_TIMEOUT)
                return f"no answer to RESET within {self.timers.reset_timeout:g} s"
            note = "" if isinstance(answer, cbsp.ResetComplete) else " (RESET FAILURE answered; link used anyway)"
            self._go_up(LinkEvent.RESET_ANSWERED, f"RESET answered by {connection.remote}{note}")
            keepalive_code_seconds = min(MAX_KEEP_ALIVE_SECONDS,
                                         round_up_period(max(1.0, self.timers.keepalive_interval)))
            while True:
                await asyncio.sleep(self.timers.keepalive_interval)
                self._keepalive_answer = loop.create_future()
                self._set(LinkState.KEEPALIVE_PENDING, LinkEvent.KEEPALIVE_DUE)
                await connection.send(cbsp.KeepAlive(keepalive_code_seconds))
                try:
                    await asyncio.wait_for(self._keepalive_answer, self.timers.keepalive_timeout)
                except asyncio.TimeoutError:
                    self._set(LinkState.KEEPALIVE_PENDING, LinkEvent.KEEPALIVE_TIMEOUT)
                    return f"no KEEP-ALIVE COMPLETE within {self.timers.keepalive_timeout:g} s"
                self._set(LinkState.UP, LinkEvent.KEEPALIVE_ANSWERED)
        # SBc-AP: up on connect; the association's end (seen by the receiver) ends the link.
        self._go_up(LinkEvent.CONNECTED, f"connected to {connection.remote}")
        await asyncio.Event().wait()
        return "unreachable"

    def _go_up(self, event: LinkEvent, reason: str) -> None:
        self._reached_up = True
        self.ups += 1
        self.failures = 0
        self._set(LinkState.UP, event, reason)
        try:
            self.owner.link_up(self)
        except Exception:
            log.exception("link %s: owner failed on link up", self.name)

    async def _receive(self, connection: PeerConnection) -> str:
        while True:
            message = await connection.receive()
            if isinstance(message, DecodeFailure):
                await self._answer_undecodable(connection, message)
                if message.fatal:
                    return f"CBSP stream out of step: {message.error}"
                continue
            if isinstance(message, (cbsp.ResetComplete, cbsp.ResetFailure)):
                if self._reset_answer is not None and not self._reset_answer.done():
                    self._reset_answer.set_result(message)
                continue
            if isinstance(message, cbsp.KeepAliveComplete):
                if self._keepalive_answer is not None and not self._keepalive_answer.done():
                    self._keepalive_answer.set_result(message)
                continue
            if isinstance(message, cbsp.KeepAlive):  # a BSC probing us; osmo-cbc ignores it, we answer
                await connection.send(cbsp.KeepAliveComplete())
                continue
            if isinstance(message, cbsp.Restart) and self.state is LinkState.RESETTING:
                continue  # the RESET under way clears the BSC anyway; link-up re-sends what is active
            try:
                self.owner.message_received(self, message)
            except Exception:
                log.exception("link %s: owner failed on %s", self.name, type(message).__name__)

    async def _answer_undecodable(self, connection: PeerConnection, failure: DecodeFailure) -> None:
        log.warning("link %s: undecodable message from %s: %s", self.name, connection.remote, failure.error)
        try:
            if self.protocol == CBSP:
                cause = failure.cause if failure.cause is not None else cbsp.Cause.UNSPECIFIED_ERROR
                await connection.send(cbsp.ErrorIndication(cause))
            elif self.protocol == SBCAP:
                cause = failure.cause if failure.cause is not None else sbcap.Cause.TRANSFER_SYNTAX_ERROR
                await connection.send(sbcap.ErrorIndication(cause))
        except (ConnectionClosed, ValueError):
            pass

"""The operator's warning: one child state machine per peer (peer_fsm.PeerWarning) and their aggregate state.

States (WarningState) and events (WarningEvent):

    INIT --SEND--> WAIT_WRITE_ACK
    WAIT_WRITE_ACK --ALL_ANSWERED | TIMEOUT--> ACTIVE (some peer took it) | FAILED (none did)
    ACTIVE --UPDATE--> WAIT_REPLACE_ACK --ALL_ANSWERED | TIMEOUT--> ACTIVE | FAILED
    ACTIVE, FAILED --STOP--> WAIT_STOP_ACK --ALL_ANSWERED | TIMEOUT--> STOPPED
    ACTIVE --EXPIRE (warning period over)--> WAIT_STOP_ACK --> EXPIRED
    ACTIVE --PEER_RESTART (BSC RESTART, MME PWS-Restart-Indication) / PEER_LINK_UP (CBSP RESET done)-->
        ACTIVE, with that peer's child writing the warning again
    any --PEER_CHANGED--> same state (a child moved; the engine reports it)

As in osmo-cbc's smscb_message_fsm, the parent leaves a WAIT_* state when every child has answered or
when its own timer (longer than the children's) fires; children still waiting then time out on their
own. Operations on one warning run one at a time.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from typing import Callable

from omnidesk.cbc.peer_fsm import PeerWarning, PeerWarningEvent, PeerWarningState, WarningContent

log = logging.getLogger(__name__)

__all__ = ["WarningState", "WarningEvent", "WarningMessage"]


class WarningState(enum.Enum):
    INIT = "init"
    WAIT_WRITE_ACK = "wait-write-ack"
    ACTIVE = "active"
    WAIT_REPLACE_ACK = "wait-replace-ack"
    WAIT_STOP_ACK = "wait-stop-ack"
    STOPPED = "stopped"
    EXPIRED = "expired"
    FAILED = "failed"


class WarningEvent(enum.Enum):
    SEND = "send"
    UPDATE = "update"
    STOP = "stop"
    EXPIRE = "expire"
    ALL_ANSWERED = "all-answered"
    TIMEOUT = "timeout"
    PEER_RESTART = "peer-restart"
    PEER_LINK_UP = "peer-link-up"
    PEER_CHANGED = "peer-changed"


FINAL = frozenset({WarningState.STOPPED, WarningState.EXPIRED})


class WarningMessage:
    """One operator warning across its peers."""

    def __init__(self, warning_id: int, content: WarningContent, timeout: float,
                 on_change: Callable[[WarningMessage, WarningEvent, str], None]):
        self.warning_id = warning_id
        self.content = content  # what the peers are asked to broadcast now
        self.latest = content  # the last content accepted (CellBroadcastCentre.update_warning), maybe not yet sent
        self.stopping = False  # a stop was asked for, or the warning period ran out: no more updates
        self.timeout = timeout
        self.children: dict[str, PeerWarning] = {}
        self.state = WarningState.INIT
        self.reason = ""
        self.history: list[tuple[float, str, str, str]] = []
        self.created = time.time()
        self._on_change = on_change
        self._settled = asyncio.Event()
        self._lock = asyncio.Lock()
        self.expiry: asyncio.TimerHandle | None = None

    def add_child(self, child: PeerWarning) -> None:
        self.children[child.peer] = child

    def _move(self, state: WarningState, event: WarningEvent, detail: str = "") -> None:
        self.state = state
        if detail:
            self.reason = detail
        self.history.append((time.time(), event.value, state.value, detail))
        try:
            self._on_change(self, event, detail)
        except Exception:
            log.exception("warning %s: listener failed", self.warning_id)

    def child_changed(self, child: PeerWarning, event: PeerWarningEvent, detail: str) -> None:
        if all(c.settled for c in self.children.values()):
            self._settled.set()

    async def _run(self, waiting: WarningState, event: WarningEvent, operation: Callable[[PeerWarning], object],
                   children: list[PeerWarning], detail: str = "") -> bool:
        """Start `operation` on the children, wait for all answers or the timer; True if all answered."""
        self._settled.clear()
        self._move(waiting, event, detail or f"{len(children)} peer(s)")
        await asyncio.gather(*(operation(child) for child in children))  # type: ignore[misc]
        if all(c.settled for c in self.children.values()):
            return True
        try:
            await asyncio.wait_for(self._settled.wait(), self.timeout)
            return True
        except asyncio.TimeoutError:
            return False

    def _summary(self) -> str:
        counts: dict[str, int] = {}
        for child in self.children.values():
            counts[child.state.value] = counts.get(child.state.value, 0) + 1
        return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))

    def restore(self) -> None:
        """After the children were restored: active where any peer still has it, failed otherwise."""
        active = any(c.state is PeerWarningState.ACTIVE for c in self.children.values())
        self.state = WarningState.ACTIVE if active else WarningState.FAILED
        self.reason = "taken over after the centre restarted; " + self._summary()
        self.history.append((time.time(), "restore", self.state.value, self.reason))

    async def send(self) -> None:
        async with self._lock:
            content = self.content
            answered = await self._run(WarningState.WAIT_WRITE_ACK, WarningEvent.SEND,
                                       lambda c: c.write(content), list(self.children.values()))
            self._after_write(answered)

    def _after_write(self, answered: bool) -> None:
        event = WarningEvent.ALL_ANSWERED if answered else WarningEvent.TIMEOUT
        if any(c.state is PeerWarningState.ACTIVE for c in self.children.values()):
            self._move(WarningState.ACTIVE, event, self._summary())
        else:
            self._move(WarningState.FAILED, event, self._summary())

    async def update(self, content: WarningContent) -> bool:
        """Replace the content on every peer; False (nothing sent) if a stop ended the warning first."""
        async with self._lock:
            if self.state in FINAL:
                return False
            self.content = content
            answered = await self._run(WarningState.WAIT_REPLACE_ACK, WarningEvent.UPDATE,
                                       lambda c: c.replace(content), list(self.children.values()))
            self._after_write(answered)
            return True

    async def stop(self, expired: bool = False) -> None:
        self.stopping = True
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        async with self._lock:
            if self.state in FINAL:
                return
            answered = await self._run(WarningState.WAIT_STOP_ACK, WarningEvent.EXPIRE if expired else WarningEvent.STOP,
                                       lambda c: c.stop(), list(self.children.values()))
            self._move(WarningState.EXPIRED if expired else WarningState.STOPPED,
                       WarningEvent.ALL_ANSWERED if answered else WarningEvent.TIMEOUT, self._summary())

    async def peer_lost_warnings(self, peer: str, why: str, event: WarningEvent) -> bool:
        """The peer lost what it broadcast (restart, or RESET after reconnecting): write it again there.
        Only where this warning was active on that peer; True if something was re-sent."""
        child = self.children.get(peer)
        if child is None or self.state not in (WarningState.ACTIVE, WarningState.WAIT_REPLACE_ACK):
            return False
        if child.state is not PeerWarningState.ACTIVE:
            return False
        async with self._lock:
            if self.state is not WarningState.ACTIVE or child.state is not PeerWarningState.ACTIVE:
                return False
            self.history.append((time.time(), event.value, self.state.value, f"{peer}: {why}"))
            self._on_change(self, event, f"{peer}: {why}")
            self._settled.clear()
            await child.resend(why)
        return True

"""The CBC engine: the one Python API the GUI, the CLI and tests use to configure peers and send, update and stop warnings.

    with CellBroadcastCentre(EngineTimers(...)) as cbc:
        cbc.subscribe(print)                                     # events, on the engine's thread
        cbc.configure_peer(PeerConfig("bsc1", "cbsp", "client", "10.0.0.5")).result(5)
        cbc.wait_for_link("bsc1", 10)
        future = cbc.send_warning(WarningRequest(4370, message_code=1,
                                                 texts=[WarningText("Flood warning", "en")],
                                                 repetition_period=60))
        status = future.result(20)                               # every peer answered (or timed out)
        cbc.update_warning(future.warning_id, texts=[...]).result(20)   # same code, update number + 1
        cbc.stop_warning(future.warning_id).result(20)
        cbc.status(future.warning_id)                            # per peer, per cell

Threading: the engine runs its own asyncio loop in a daemon thread. Every public method may be called
from any thread; the ones that act return a concurrent.futures.Future, the ones that read block up to
`timeout` seconds. Input is checked in the caller's thread before anything is queued: bad input raises a
CbcInputError (a ValueError) and nothing is sent. Event callbacks run on the engine's thread and must
return quickly; a GUI marshals them to its own thread.

Choices where the specs are silent (see also DECISIONS.md "Cell broadcast"):
- Repetition period is given in seconds (1..4095). SBc-AP carries seconds as given; CBSP carries units
  of 1.883 s, rounded to the nearest unit and at least 1 (period.repetition_period_from_seconds), so
  60 s goes out as 32 units (60.3 s).
- Each language is its own broadcast (its own DCS), all sent together. So that a BSC or MME can tell
  them apart, language i (0-based) uses message code `message_code + i` with the same update number,
  and by default the warning's message identifier (a language may name its own).
- An update keeps the languages of the warning and bumps the update number (mod 16) of every one.
- No targets = every cell of every peer whose link is up at send time (BSS-wide cell list on CBSP,
  no warning area on SBc-AP). Targets are given per peer; a peer named with an empty list is refused.
- After a CBSP link comes up again (RESET clears the BSC) or a BSC RESTART with "data lost" or an MME
  PWS-Restart-Indication, warnings active on that peer are written again. An SBc-AP reconnect re-sends
  nothing (the MME keeps its warnings; it tells us of restarted cells).
- The warning period (seconds, optional) is enforced here: when it ends, the warning is stopped and
  ends EXPIRED.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine, Iterable, Mapping, Sequence

from omnidesk.cbc import cbsp, sbcap
from omnidesk.cbc.links import UP_STATES, LinkEvent, LinkState, LinkTimers, PeerLink
from omnidesk.cbc.message_fsm import FINAL, WarningEvent, WarningMessage, WarningState
from omnidesk.cbc.pages import MAX_PAGES, GeographicalScope, PageError, SerialNumber, build_pages, measure
from omnidesk.cbc.peer_fsm import (
    Broadcast,
    CellResult,
    PeerWarning,
    PeerWarningEvent,
    PeerWarningState,
    SbcapTarget,
    WarningContent,
    cause_name,
    cell_label,
)
from omnidesk.cbc.period import MAX_REPETITION_PERIOD, RepetitionPeriodLayout
from omnidesk.cbc.transport import CBSP, SBCAP, Listener, MemoryNetwork, PeerConnection, listen

log = logging.getLogger(__name__)

__all__ = [
    "CbcInputError", "UnknownPeerError", "UnknownWarningError", "NoPeerConnectedError", "TextTooLongError",
    "MessageIdentifierError", "UpdateOvertakenError", "PeerConfig", "EngineTimers", "WarningText", "WarningRequest", "PeerStatus",
    "PeerWarningStatus", "WarningStatus", "EventKind", "CbcEvent", "BackgroundLoop", "CellBroadcastCentre",
    "check_message_identifier", "MESSAGE_IDENTIFIER_RANGES", "warning_content", "resolve_targets", "check_encodes",
    "check_warning",
]


# ---------------------------------------------------------------------------------------------
# Errors


class CbcInputError(ValueError):
    """The request cannot be sent as given; nothing was sent."""


class UnknownPeerError(CbcInputError):
    pass


class UnknownWarningError(CbcInputError):
    pass


class NoPeerConnectedError(CbcInputError):
    pass


class TextTooLongError(CbcInputError):
    pass


class MessageIdentifierError(CbcInputError):
    pass


class UpdateOvertakenError(CbcInputError):
    """An update was accepted, but the warning ended (its warning period ran out) before the update could go
    out: nothing was sent and the warning kept (and ended with) its previous content, `previous`."""

    def __init__(self, message: str, previous: WarningContent):
        super().__init__(message)
        self.previous = previous


# TS 23.041 §9.4.1.2.2 identifiers a warning may use: operator-defined CBS, PWS (ETWS, CMAS / EU-Alert,
# ePWS), EU-Info, and the PLMN-operator-specific range.
MESSAGE_IDENTIFIER_RANGES: tuple[tuple[int, int, str], ...] = (
    (0, 999, "operator-defined CBS"),
    (4352, 4359, "ETWS"),
    (4370, 4400, "CMAS / EU-Alert"),
    (4401, 4410, "ePWS"),
    (6400, 6400, "EU-Info (local language)"),
    (40960, 45055, "PLMN operator specific"),
)


def check_message_identifier(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MessageIdentifierError(f"Message identifier {value!r} must be a whole number.")
    for low, high, _ in MESSAGE_IDENTIFIER_RANGES:
        if low <= value <= high:
            return value
    ranges = "; ".join(f"{lo}" + (f"–{hi}" if hi != lo else "") + f" {name}" for lo, hi, name in MESSAGE_IDENTIFIER_RANGES)
    raise MessageIdentifierError(f"Message identifier {value} is not one a warning may use (TS 23.041): {ranges}.")


def _whole(value: Any, low: int, high: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise CbcInputError(f"{what} {value!r} must be a whole number from {low} to {high}.")
    return value


# ---------------------------------------------------------------------------------------------
# Configuration and requests


@dataclass(frozen=True)
class EngineTimers:
    """Seconds. answer_timeout: a peer's answer to one operation (osmo-cbc 10 s); warning_timeout: the
    whole warning's wait over all peers (osmo-cbc 15 s)."""

    link: LinkTimers = field(default_factory=LinkTimers)
    answer_timeout: float = 10.0
    warning_timeout: float = 15.0


_DEFAULT_PORTS = {CBSP: cbsp.TCP_PORT, SBCAP: sbcap.SCTP_PORT}
_DEFAULT_TRANSPORT = {CBSP: "tcp", SBCAP: "sctp"}


@dataclass(frozen=True)
class PeerConfig:
    """A BSC (protocol 'cbsp') or MME (protocol 'sbcap').

    role 'client': the CBC connects to host:port (TS 48.049 has the BSC as server).
    role 'server': the CBC listens on host:port and takes the peer's connection; several server-role
    peers may share one listening address and are told apart by remote_host (or taken in turn).
    transport: 'tcp' (CBSP), 'sctp' (SBc-AP) or 'memory' (tests, demos; needs the engine's MemoryNetwork).
    """

    name: str
    protocol: str
    role: str = "client"
    host: str = "127.0.0.1"
    port: int | str | None = None
    transport: str | None = None
    repetition_period_layout: RepetitionPeriodLayout = RepetitionPeriodLayout.OSMOCOM
    remote_host: str | None = None
    timers: LinkTimers | None = None

    def resolved(self) -> PeerConfig:
        if not isinstance(self.name, str) or not self.name.strip():
            raise CbcInputError("A peer needs a name.")
        if self.protocol not in (CBSP, SBCAP):
            raise CbcInputError(f"Peer {self.name}: protocol {self.protocol!r} must be 'cbsp' or 'sbcap'.")
        if self.role not in ("client", "server"):
            raise CbcInputError(f"Peer {self.name}: role {self.role!r} must be 'client' or 'server'.")
        transport = self.transport or _DEFAULT_TRANSPORT[self.protocol]
        allowed = {CBSP: ("tcp", "memory"), SBCAP: ("sctp", "memory")}[self.protocol]
        if transport not in allowed:
            raise CbcInputError(f"Peer {self.name}: {self.protocol} runs over {' or '.join(allowed)}, not {transport!r}.")
        port = self.port if self.port is not None else _DEFAULT_PORTS[self.protocol]
        if transport != "memory":
            _whole(port, 0 if self.role == "server" else 1, 65535, f"Peer {self.name}: port")
        if not isinstance(self.repetition_period_layout, RepetitionPeriodLayout):
            raise CbcInputError(f"Peer {self.name}: unknown repetition period layout {self.repetition_period_layout!r}.")
        return PeerConfig(self.name, self.protocol, self.role, self.host, port, transport,
                          self.repetition_period_layout, self.remote_host, self.timers)


@dataclass(frozen=True)
class WarningText:
    text: str
    language: str | None = None  # ISO 639-1; picks the GSM 7-bit data coding scheme
    message_identifier: int | None = None  # default: the warning's


@dataclass(frozen=True)
class WarningRequest:
    """A warning to send. targets: {peer name: [cells or areas]} or None for every cell of every
    connected peer. CBSP cells are cbsp.CellGlobalId / LacAndCi / CellIdentity / LocationAreaId /
    LocationAreaCode (one kind per peer); SBc-AP areas are sbcap.TrackingAreaId, sbcap.EutranCellId or
    emergency area ids (int), one kind per peer."""

    message_identifier: int
    message_code: int
    texts: Sequence[WarningText | str]
    repetition_period: int = 60  # seconds, 1..4095
    number_of_broadcasts: int = 0  # 0 = until stopped
    warning_period: float | None = None  # seconds; None = until stopped
    category: cbsp.Category = cbsp.Category.NORMAL
    geographical_scope: GeographicalScope = GeographicalScope.PLMN_WIDE
    update_number: int = 0
    targets: Mapping[str, Sequence[Any]] | None = None


# ---------------------------------------------------------------------------------------------
# Status and events (plain frozen values, safe to hand to any thread)


@dataclass(frozen=True)
class PeerStatus:
    name: str
    protocol: str
    role: str
    transport: str
    state: LinkState
    reason: str
    remote: str
    listen_address: tuple | None
    connection_failures: int
    times_up: int

    @property
    def is_up(self) -> bool:
        return self.state in UP_STATES


@dataclass(frozen=True)
class PeerWarningStatus:
    peer: str
    protocol: str
    state: PeerWarningState
    reason: str
    cells: tuple[CellResult, ...]
    writes_sent: int
    history: tuple[tuple[float, str, str, str], ...]

    def cell(self, label: str, language: str | None = None) -> CellResult | None:
        return next((c for c in self.cells if c.cell == label and (language is None or c.language == language)), None)


@dataclass(frozen=True)
class WarningStatus:
    warning_id: int
    state: WarningState
    reason: str
    message_identifier: int
    serial_number: SerialNumber
    languages: tuple[str | None, ...]
    repetition_period: int
    number_of_broadcasts: int
    peers: Mapping[str, PeerWarningStatus]
    created: float
    history: tuple[tuple[float, str, str, str], ...]

    @property
    def update_number(self) -> int:
        return self.serial_number.update_number


class EventKind(enum.Enum):
    LINK_STATE = "link-state"
    LINK_UP = "link-up"
    LINK_DOWN = "link-down"
    PEER_RESTART = "peer-restart"
    PEER_FAILURE = "peer-failure"
    PEER_ERROR = "peer-error"
    CONNECTION_REFUSED = "connection-refused"
    WARNING_STATE = "warning-state"
    PEER_WARNING_STATE = "peer-warning-state"
    UNMATCHED = "unmatched"


@dataclass(frozen=True)
class CbcEvent:
    kind: EventKind
    peer: str | None = None
    warning_id: int | None = None
    state: str | None = None
    event: str | None = None
    detail: str = ""
    at: float = field(default_factory=time.time)


# ---------------------------------------------------------------------------------------------
# Checking a warning before anything is sent (also used by the store, before a warning is queued)


def warning_content(request: WarningRequest, serial_update: int) -> WarningContent:
    """The pages and serial numbers of every language; CbcInputError for anything out of range."""
    message_identifier = check_message_identifier(request.message_identifier)
    _whole(request.message_code, 0, 1023, "Message code")
    _whole(serial_update, 0, 15, "Update number")
    _whole(request.repetition_period, 1, MAX_REPETITION_PERIOD, "Repetition period (seconds)")
    _whole(request.number_of_broadcasts, 0, 65535, "Number of broadcasts")
    try:
        category = cbsp.Category(request.category)
        scope = GeographicalScope(request.geographical_scope)
    except ValueError as exc:
        raise CbcInputError(str(exc)) from None
    if request.warning_period is not None and (not isinstance(request.warning_period, (int, float))
                                               or isinstance(request.warning_period, bool)
                                               or request.warning_period <= 0):
        raise CbcInputError(f"Warning period {request.warning_period!r} must be a positive number of seconds "
                            "or None (until stopped).")
    texts = [WarningText(t) if isinstance(t, str) else t for t in (request.texts or ())]
    if not texts:
        raise CbcInputError("A warning needs at least one text.")
    if request.message_code + len(texts) - 1 > 1023:
        raise CbcInputError(f"Message code {request.message_code} leaves no room for {len(texts)} languages "
                            "(each language takes the next code, up to 1023).")
    broadcasts = []
    seen_languages: set[str | None] = set()
    for index, text in enumerate(texts):
        if not isinstance(text, WarningText):
            raise CbcInputError(f"Text {index + 1} must be a WarningText or a string, not {text!r}.")
        label = text.language or "(no language)"
        if text.language in seen_languages:
            raise CbcInputError(f"Language {label} is given twice; each language is one broadcast.")
        seen_languages.add(text.language)
        identifier = check_message_identifier(text.message_identifier if text.message_identifier is not None
                                              else message_identifier)
        if not isinstance(text.text, str) or not text.text:
            raise CbcInputError(f"The text for {label} is empty.")
        measured = measure(text.text)
        if measured.pages > MAX_PAGES:
            raise TextTooLongError(
                f"The text for {label} is too long: {measured.characters} {measured.alphabet.value} characters "
                f"need {measured.pages} pages; at most {MAX_PAGES} pages ({MAX_PAGES * measured.characters_per_page} "
                f"characters) fit" + (" — a character outside GSM 7-bit switched it to UCS-2"
                                      if measured.non_gsm_characters else "") + ".")
        try:
            dcs, pages = build_pages(text.text, text.language)
        except PageError as exc:
            raise CbcInputError(f"{label}: {exc}") from None
        serial = SerialNumber(scope, request.message_code + index, serial_update)
        broadcasts.append(Broadcast(text.language, identifier, serial, dcs, pages, text.text))
    return WarningContent(tuple(broadcasts), category, request.repetition_period, request.number_of_broadcasts)


def resolve_targets(request: WarningRequest, configs: Mapping[str, PeerConfig]) -> dict[str, Any] | None:
    """{peer: cell list or SbcapTarget}, or None for every cell of every connected peer."""
    if request.targets is None:
        return None
    if not isinstance(request.targets, Mapping) or not request.targets:
        raise CbcInputError("The target list is empty; name peers and their cells, or give no targets "
                            "to reach every cell of every connected peer.")
    targets: dict[str, Any] = {}
    for name, cells in request.targets.items():
        config = configs.get(name)
        if config is None:
            raise UnknownPeerError(f"There is no peer named {name!r}; configured: {', '.join(sorted(configs)) or 'none'}.")
        cells = list(cells) if isinstance(cells, Iterable) and not isinstance(cells, (str, bytes)) else None
        if not cells:
            raise CbcInputError(f"The target list for peer {name} is empty; name at least one cell or area.")
        targets[name] = _target_for(config, cells)
    return targets


def _target_for(config: PeerConfig, cells: list[Any]) -> Any:
    if config.protocol == CBSP:
        kinds = (cbsp.CellGlobalId, cbsp.LacAndCi, cbsp.CellIdentity, cbsp.LocationAreaId, cbsp.LocationAreaCode)
        if not all(isinstance(c, kinds) for c in cells) or len({type(c) for c in cells}) != 1:
            raise CbcInputError(f"Peer {config.name} (CBSP) takes cells of one kind: CGI, LAC+CI, CI, LAI or LAC.")
        return cbsp.CellList.of(*cells)
    if all(isinstance(c, sbcap.TrackingAreaId) for c in cells):
        tais = tuple(cells)
        return SbcapTarget(tais, sbcap.TrackingAreaList(tais))
    if all(isinstance(c, sbcap.EutranCellId) for c in cells):
        return SbcapTarget((), sbcap.CellIdList(tuple(cells)))
    if all(isinstance(c, int) and not isinstance(c, bool) for c in cells):
        return SbcapTarget((), sbcap.EmergencyAreaList(tuple(cells)))
    raise CbcInputError(f"Peer {config.name} (SBc-AP) takes areas of one kind: TAIs, E-UTRAN cells or "
                        "emergency area ids.")


def check_encodes(content: WarningContent, targets: dict[str, Any] | None, configs: Mapping[str, PeerConfig]) -> None:
    """Encode every PDU now, so a value no codec accepts is refused before anything is sent."""
    chosen = targets if targets is not None else {name: _whole_target(c.protocol) for name, c in configs.items()}
    checked: set[str] = set()  # with no targets, one peer per protocol stands for all
    for name, target in chosen.items():
        config = configs[name]
        if targets is None:
            if config.protocol in checked:
                continue
            checked.add(config.protocol)
        probe = PeerWarning(0, name, config.protocol, target, _never_send, lambda *a: None)
        try:
            for pdu in probe.pdus_for(content):
                if config.protocol == CBSP:
                    cbsp.encode(pdu, repetition_period_layout=config.repetition_period_layout)
                else:
                    sbcap.encode(pdu)
        except (cbsp.CbspEncodeError, sbcap.SbcapEncodeError, ValueError) as exc:
            raise CbcInputError(f"Peer {name}: {exc}") from None


def check_warning(request: WarningRequest, configs: Mapping[str, PeerConfig]
                  ) -> tuple[WarningContent, dict[str, Any] | None]:
    """Everything send_warning checks before sending, against the given peers; raises CbcInputError.
    Returns what would be sent: the content and the per-peer targets (None = every connected peer)."""
    if request.targets is None and not configs:
        raise NoPeerConnectedError("No peer is configured; add a BSC or MME first.")
    content = warning_content(request, request.update_number)
    targets = resolve_targets(request, configs)
    check_encodes(content, targets, configs)
    return content, targets


# ---------------------------------------------------------------------------------------------
# An asyncio loop in a thread


class BackgroundLoop:
    """An asyncio event loop running in its own daemon thread."""

    def __init__(self, name: str = "cbc-loop"):
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def submit(self, coroutine: Coroutine) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine, timeout: float | None = 10.0) -> Any:
        if threading.current_thread() is self.thread:
            raise RuntimeError("blocking call made from the loop's own thread")
        return self.submit(coroutine).result(timeout)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:
            return
        if threading.current_thread() is not self.thread:
            self.thread.join(10)


# ---------------------------------------------------------------------------------------------
# The engine


class _Peer:
    def __init__(self, config: PeerConfig, link: PeerLink):
        self.config = config
        self.link = link
        self.listener_key: tuple | None = None


class CellBroadcastCentre:
    """The embedded CBC. See the module docstring."""

    def __init__(self, timers: EngineTimers | None = None, network: MemoryNetwork | None = None):
        self.timers = timers or EngineTimers()
        self.network = network or MemoryNetwork()
        self._background = BackgroundLoop("cbc-engine")
        self._loop = self._background.loop
        self._configs: dict[str, PeerConfig] = {}  # caller-side copy, for validation without the loop
        self._configs_lock = threading.Lock()
        self._peers: dict[str, _Peer] = {}  # loop side
        self._listeners: dict[tuple, tuple[Listener, list[str]]] = {}
        self._warnings: dict[int, WarningMessage] = {}
        self._warning_ids = itertools.count(1)
        self._updates_lock = threading.Lock()  # callers' threads: an update builds on the one accepted before
        self._subscribers: list[Callable[[CbcEvent], None]] = []
        self._subscribers_lock = threading.Lock()
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> CellBroadcastCentre:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self, timeout: float = 10.0) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._background.run(self._shutdown(), timeout)
        except Exception:  # noqa: BLE001 - closing must not raise
            log.exception("CBC shutdown")
        self._background.stop()

    async def _shutdown(self) -> None:
        for warning in self._warnings.values():
            if warning.expiry is not None:
                warning.expiry.cancel()
        await asyncio.gather(*(peer.link.stop() for peer in self._peers.values()), return_exceptions=True)
        for listener, _ in self._listeners.values():
            listener.close()

    def _submit(self, coroutine: Coroutine) -> concurrent.futures.Future:
        if self._closed:
            coroutine.close()
            raise RuntimeError("the CBC engine is closed")
        return self._background.submit(coroutine)

    # -- events ------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[CbcEvent], None]) -> Callable[[], None]:
        """callback(event) for every event, on the engine's thread. Returns a function that unsubscribes."""
        with self._subscribers_lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._subscribers_lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, event: CbcEvent) -> None:
        with self._subscribers_lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - a subscriber's bug must not stop the engine
                log.exception("CBC event subscriber failed on %s", event)

    # -- peers -------------------------------------------------------------------------------

    def configure_peer(self, config: PeerConfig) -> concurrent.futures.Future:
        """Add or replace a peer and start its link. Future -> PeerStatus."""
        resolved = config.resolved()
        with self._configs_lock:
            self._configs[resolved.name] = resolved
        return self._submit(self._configure(resolved))

    def remove_peer(self, name: str) -> concurrent.futures.Future:
        with self._configs_lock:
            if name not in self._configs:
                raise UnknownPeerError(f"There is no peer named {name!r}.")
            del self._configs[name]
        return self._submit(self._remove(name))

    def peers(self, timeout: float = 5.0) -> list[PeerStatus]:
        return self._background.run(self._peer_statuses(), timeout)

    def peer(self, name: str, timeout: float = 5.0) -> PeerStatus:
        self._known_peer(name)
        return self._background.run(self._peer_status(name), timeout)

    def wait_for_link(self, name: str, timeout: float = 10.0) -> PeerStatus:
        """Block until the peer's link is up; TimeoutError with the link's last reason otherwise."""
        self._known_peer(name)
        deadline = time.monotonic() + timeout
        while True:
            status = self.peer(name)
            if status.is_up:
                return status
            if time.monotonic() >= deadline:
                raise TimeoutError(f"link to {name} is {status.state.value} after {timeout:g} s: {status.reason}")
            time.sleep(0.01)

    def _known_peer(self, name: str) -> PeerConfig:
        with self._configs_lock:
            config = self._configs.get(name)
        if config is None:
            raise UnknownPeerError(f"There is no peer named {name!r}; configured: {', '.join(sorted(self._configs)) or 'none'}.")
        return config

    async def _configure(self, config: PeerConfig) -> PeerStatus:
        if config.name in self._peers:
            await self._remove(config.name)
        link = PeerLink(config.name, config.protocol, config.role, config.host, config.port, config.transport,
                        self, config.timers or self.timers.link, config.repetition_period_layout, self.network)
        peer = _Peer(config, link)
        self._peers[config.name] = peer
        if config.role == "server":
            key = (config.protocol, config.transport, config.host, config.port)
            if key not in self._listeners:
                listener = await listen(config.protocol, config.transport, config.host, config.port,
                                        lambda connection, key=key: self._accepted(key, connection),
                                        layout=config.repetition_period_layout, network=self.network)
                self._listeners[key] = (listener, [])
            self._listeners[key][1].append(config.name)
            peer.listener_key = key
        link.start()
        return await self._peer_status(config.name)

    async def _remove(self, name: str) -> None:
        peer = self._peers.pop(name, None)
        if peer is None:
            return
        await peer.link.stop()
        if peer.listener_key is not None:
            listener, names = self._listeners[peer.listener_key]
            names.remove(name)
            if not names:
                listener.close()
                del self._listeners[peer.listener_key]

    def _accepted(self, key: tuple, connection: PeerConnection) -> None:
        names = self._listeners.get(key, (None, []))[1]
        candidates = [self._peers[n] for n in names if n in self._peers]
        exact = [p for p in candidates if p.config.remote_host == connection.remote_host]
        anyone = [p for p in candidates if p.config.remote_host is None]
        for peer in exact + anyone:
            if peer.link.attach(connection):
                return
        connection.close()
        self._emit(CbcEvent(EventKind.CONNECTION_REFUSED, detail=f"{connection.remote}: no free peer configured "
                            f"for this address on {key[2]}:{key[3]}"))

    async def _peer_status(self, name: str) -> PeerStatus:
        peer = self._peers[name]
        link = peer.link
        address = None
        if peer.listener_key is not None and peer.listener_key in self._listeners:
            address = tuple(self._listeners[peer.listener_key][0].address)
        return PeerStatus(name, peer.config.protocol, peer.config.role, peer.config.transport or "", link.state,
                          link.last_reason, link.remote, address, link.failures, link.ups)

    async def _peer_statuses(self) -> list[PeerStatus]:
        return [await self._peer_status(name) for name in sorted(self._peers)]

    # -- link owner (engine loop) --------------------------------------------------------------

    def link_state_changed(self, link: PeerLink, state: LinkState, event: LinkEvent, reason: str) -> None:
        self._emit(CbcEvent(EventKind.LINK_STATE, peer=link.name, state=state.value, event=event.value, detail=reason))

    def link_up(self, link: PeerLink) -> None:
        self._emit(CbcEvent(EventKind.LINK_UP, peer=link.name, state=link.state.value, detail=link.last_reason))
        if link.protocol == CBSP:  # the RESET just cleared the BSC: write again what is active there
            self._resend_to(link.name, "link up again after RESET", WarningEvent.PEER_LINK_UP)

    def link_down(self, link: PeerLink, reason: str) -> None:
        self._emit(CbcEvent(EventKind.LINK_DOWN, peer=link.name, state=link.state.value, detail=reason))
        for warning in list(self._warnings.values()):
            child = warning.children.get(link.name)
            if child is not None:
                child.link_down(reason)

    def _resend_to(self, peer: str, why: str, event: WarningEvent) -> None:
        for warning in list(self._warnings.values()):
            if peer in warning.children:
                self._loop.create_task(warning.peer_lost_warnings(peer, why, event))

    def message_received(self, link: PeerLink, message: Any) -> None:
        name = link.name
        if isinstance(message, cbsp.Restart):
            lost = message.recovery_indication == cbsp.RecoveryIndication.DATA_LOST
            self._emit(CbcEvent(EventKind.PEER_RESTART, peer=name,
                                detail=f"RESTART ({'data lost' if lost else 'data available'})"))
            if lost:
                self._resend_to(name, "BSC RESTART (data lost)", WarningEvent.PEER_RESTART)
            return
        if isinstance(message, sbcap.PwsRestartIndication):
            cells = ", ".join(cell_label(c) for c in message.restarted_cells[:5])
            self._emit(CbcEvent(EventKind.PEER_RESTART, peer=name, detail=f"PWS-Restart-Indication: {cells}"))
            self._resend_to(name, "MME PWS-Restart-Indication", WarningEvent.PEER_RESTART)
            return
        if isinstance(message, (cbsp.Failure, sbcap.PwsFailureIndication)):
            if isinstance(message, cbsp.Failure):
                cells = [f.cell for f in message.failure_list]
                cause = ", ".join(sorted({cause_name(f.cause) for f in message.failure_list}))
            else:
                cells, cause = list(message.failed_cells), "pws-failure-indication"
            self._emit(CbcEvent(EventKind.PEER_FAILURE, peer=name, detail=f"{len(cells)} cell(s) failed: {cause}"))
            for warning in self._warnings.values():
                child = warning.children.get(name)
                if child is not None and child.installed:
                    child.cells_failed(cells, cause)
            return
        if isinstance(message, (cbsp.ErrorIndication, sbcap.ErrorIndication)):
            self._emit(CbcEvent(EventKind.PEER_ERROR, peer=name, detail=f"ERROR INDICATION: {message}"))
            return
        for warning in self._warnings.values():
            child = warning.children.get(name)
            if child is not None and child.handle(message):
                return
        self._emit(CbcEvent(EventKind.UNMATCHED, peer=name, detail=f"{type(message).__name__} matched no warning"))

    # -- warnings: actions ---------------------------------------------------------------------

    def send_warning(self, request: WarningRequest, warning_id: int | None = None) -> concurrent.futures.Future:
        """Send a new warning. Raises CbcInputError (nothing sent) for bad input; otherwise a Future ->
        WarningStatus once every peer answered or the warning timer ran out. `future.warning_id` is set.
        warning_id: the caller's id for it (the store's row id); by default the engine numbers warnings."""
        content, targets = check_warning(request, self.configs())
        warning_id = self._claim_id(warning_id)
        future = self._submit(self._send(warning_id, content, targets, request.warning_period))
        future.warning_id = warning_id  # type: ignore[attr-defined]
        return future

    def adopt_warning(self, warning_id: int, request: WarningRequest, peers: Mapping[str, PeerWarningStatus],
                      warning_period_left: float | None = None) -> concurrent.futures.Future:
        """Take over a warning a previous run of the centre sent (as the store recorded it) without sending
        anything: peers that had it active keep it, so a stop reaches them and a peer that lost it (RESET
        after reconnecting, RESTART) gets it again. Future -> WarningStatus."""
        configs = self.configs()
        content = warning_content(request, request.update_number)
        targets = resolve_targets(request, configs) or {}
        unknown = sorted(set(peers) - set(configs))
        if unknown:
            raise UnknownPeerError(f"Warning {warning_id} was on peer(s) no longer configured: {', '.join(unknown)}.")
        for name in peers:
            targets.setdefault(name, _whole_target(configs[name].protocol))
        warning_id = self._claim_id(warning_id)
        return self._submit(self._adopt(warning_id, content, targets, peers, warning_period_left))

    async def _adopt(self, warning_id: int, content: WarningContent, targets: dict[str, Any],
                     peers: Mapping[str, PeerWarningStatus], warning_period_left: float | None) -> WarningStatus:
        warning = WarningMessage(warning_id, content, self.timers.warning_timeout, self._warning_changed)
        for name, recorded in peers.items():
            peer = self._peers[name]
            child = PeerWarning(warning_id, name, peer.config.protocol, targets[name], peer.link.send,
                                lambda child, event, detail, w=warning: self._child_changed(w, child, event, detail),
                                self.timers.answer_timeout)
            child.restore(content, recorded.state, recorded.reason, recorded.cells, recorded.writes_sent)
            warning.add_child(child)
        warning.restore()
        self._warnings[warning_id] = warning
        for name in peers:  # a BSC whose link came up before this was RESET by us: it no longer has the warning
            peer = self._peers[name]
            if peer.config.protocol == CBSP and peer.link.is_up:
                self._loop.create_task(warning.peer_lost_warnings(name, "link was RESET before the warning was "
                                                                  "taken over", WarningEvent.PEER_LINK_UP))
        if warning_period_left is not None and warning.state is WarningState.ACTIVE:
            warning.expiry = self._loop.call_later(
                max(warning_period_left, 0.0), lambda: self._loop.create_task(warning.stop(expired=True)))
        return self._snapshot(warning)

    def configs(self) -> dict[str, PeerConfig]:
        """The configured peers (resolved), by name."""
        with self._configs_lock:
            return dict(self._configs)

    def _claim_id(self, warning_id: int | None) -> int:
        if warning_id is None:
            warning_id = next(self._warning_ids)
            while warning_id in self._warnings:
                warning_id = next(self._warning_ids)
            return warning_id
        if warning_id in self._warnings:
            raise CbcInputError(f"Warning {warning_id} is already known to this centre.")
        return warning_id

    async def _send(self, warning_id: int, content: WarningContent, targets: dict[str, Any] | None,
                    warning_period: float | None) -> WarningStatus:
        if targets is None:
            names = [name for name, peer in self._peers.items() if peer.link.is_up]
            if not names:
                raise NoPeerConnectedError("No peer is connected, so the warning reached no cell; nothing was sent.")
            targets = {name: _whole_target(self._peers[name].config.protocol) for name in names}
        warning = WarningMessage(warning_id, content, self.timers.warning_timeout, self._warning_changed)
        for name, target in targets.items():
            peer = self._peers.get(name)
            if peer is None:
                raise UnknownPeerError(f"Peer {name} was removed before the warning went out; nothing was sent.")
            warning.add_child(PeerWarning(warning_id, name, peer.config.protocol, target, peer.link.send,
                                          lambda child, event, detail, w=warning: self._child_changed(w, child, event, detail),
                                          self.timers.answer_timeout))
        self._warnings[warning_id] = warning
        await warning.send()
        if warning_period is not None and warning.state is WarningState.ACTIVE:
            warning.expiry = self._loop.call_later(
                warning_period, lambda: self._loop.create_task(warning.stop(expired=True)))
        return self._snapshot(warning)

    def update_warning(self, warning_id: int, texts: Sequence[WarningText | str] | None = None, *,
                       repetition_period: int | None = None, number_of_broadcasts: int | None = None,
                       category: cbsp.Category | None = None) -> concurrent.futures.Future:
        """Replace an active warning's content: same message code, update number + 1. Raises CbcInputError
        (nothing changes) when the warning is ended or being stopped or the content is refused. Otherwise the
        update is accepted: `future.content` (peer_fsm.WarningContent) is what the warning carries from now on,
        on every peer and in every re-send whatever the peers answer, and the next update builds on it even if
        this one has not gone out yet. Future -> WarningStatus; UpdateOvertakenError if the warning period ran
        out before it went out (nothing sent)."""
        warning = self._warning(warning_id)
        with self._updates_lock:
            current = warning.latest
            if warning.state in FINAL or warning.stopping:
                state = warning.state.value if warning.state in FINAL else "being stopped"
                raise CbcInputError(f"Warning {warning_id} is {state}; send a new warning instead.")
            first = current.broadcasts[0]
            old_texts = [WarningText(b.text, b.language, b.message_identifier) for b in current.broadcasts]
            if texts is not None and len(texts) == len(current.broadcasts):  # plain strings take the languages in order
                new_texts = [WarningText(t, b.language) if isinstance(t, str) else t
                             for t, b in zip(texts, current.broadcasts)]
            elif texts is not None:
                new_texts = [WarningText(t) if isinstance(t, str) else t for t in texts]
            else:
                new_texts = old_texts
            if [t.language for t in new_texts if isinstance(t, WarningText)] != [b.language for b in current.broadcasts]:
                raise CbcInputError("An update keeps the warning's languages ("
                                    + ", ".join(b.language or "(no language)" for b in current.broadcasts)
                                    + ", in that order); stop it and send a new warning to change them.")
            new_texts = [WarningText(t.text, t.language, b.message_identifier)
                         for t, b in zip(new_texts, current.broadcasts)]
            request = WarningRequest(
                first.message_identifier, first.serial_number.message_code, new_texts,
                repetition_period if repetition_period is not None else current.repetition_period,
                number_of_broadcasts if number_of_broadcasts is not None else current.number_of_broadcasts,
                None, category if category is not None else current.category,
                first.serial_number.geographical_scope)
            content = warning_content(request, (first.serial_number.update_number + 1) % 16)
            targets = {name: child.target for name, child in warning.children.items()}
            check_encodes(content, targets, self.configs())
            warning.latest = content
            future = self._submit(self._update(warning, content, current))
        future.content = content  # type: ignore[attr-defined]
        return future

    async def _update(self, warning: WarningMessage, content: WarningContent,
                      previous: WarningContent) -> WarningStatus:
        if not await warning.update(content):
            raise UpdateOvertakenError(f"Warning {warning.warning_id} {warning.state.value} before its update went "
                                       "out; nothing was sent.", previous)
        return self._snapshot(warning)

    def stop_warning(self, warning_id: int) -> concurrent.futures.Future:
        """Stop (KILL / Stop-Warning) on every peer. Future -> WarningStatus. From now on no update is accepted."""
        warning = self._warning(warning_id)
        with self._updates_lock:
            warning.stopping = True
        return self._submit(self._stop(warning))

    async def _stop(self, warning: WarningMessage) -> WarningStatus:
        await warning.stop()
        return self._snapshot(warning)

    def status(self, warning_id: int, timeout: float = 5.0) -> WarningStatus:
        warning = self._warning(warning_id)
        return self._background.run(self._snapshot_async(warning), timeout)

    def warnings(self, timeout: float = 5.0) -> list[WarningStatus]:
        return self._background.run(self._all_snapshots(), timeout)

    def _warning(self, warning_id: int) -> WarningMessage:
        warning = self._warnings.get(warning_id)
        if warning is None:
            raise UnknownWarningError(f"There is no warning {warning_id!r}.")
        return warning

    async def _snapshot_async(self, warning: WarningMessage) -> WarningStatus:
        return self._snapshot(warning)

    async def _all_snapshots(self) -> list[WarningStatus]:
        return [self._snapshot(w) for _, w in sorted(self._warnings.items())]

    def _snapshot(self, warning: WarningMessage) -> WarningStatus:
        content = warning.content
        first = content.broadcasts[0]
        peers = {name: PeerWarningStatus(name, child.protocol, child.state, child.reason, child.snapshot_cells(),
                                         child.writes_sent, tuple(child.history))
                 for name, child in sorted(warning.children.items())}
        return WarningStatus(warning.warning_id, warning.state, warning.reason, first.message_identifier,
                             first.serial_number, tuple(b.language for b in content.broadcasts),
                             content.repetition_period, content.number_of_broadcasts, peers, warning.created,
                             tuple(warning.history))

    # -- warning callbacks (engine loop) ------------------------------------------------------

    def _warning_changed(self, warning: WarningMessage, event: WarningEvent, detail: str) -> None:
        self._emit(CbcEvent(EventKind.WARNING_STATE, warning_id=warning.warning_id, state=warning.state.value,
                            event=event.value, detail=detail))

    def _child_changed(self, warning: WarningMessage, child: PeerWarning, event: PeerWarningEvent, detail: str) -> None:
        self._emit(CbcEvent(EventKind.PEER_WARNING_STATE, peer=child.peer, warning_id=warning.warning_id,
                            state=child.state.value, event=event.value, detail=detail))
        warning.child_changed(child, event, detail)


def _whole_target(protocol: str) -> Any:
    """No targets given: every cell of the peer (BSS-wide cell list on CBSP, no warning area on SBc-AP)."""
    return cbsp.CellList.whole_bss() if protocol == CBSP else SbcapTarget()


async def _never_send(message: Any) -> None:
    raise ConnectionError("probe only")

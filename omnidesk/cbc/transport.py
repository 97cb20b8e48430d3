"""Peer connections for the CBC behind one interface: CBSP over TCP, SBc-AP over SCTP, and an in-memory pair for tests.

A connection carries typed messages (cbsp.py / sbcap.py dataclasses), not bytes: `send` encodes,
`receive` reassembles and decodes. A message that does not decode is handed up as a `DecodeFailure`
(the link answers it with ERROR INDICATION); a lost connection raises `ConnectionClosed`.

SCTP: the stdlib socket with IPPROTO_SCTP, PPID 24 on every message through SCTP_SNDINFO ancillary
data (cbc-protocols.md §6.5). Where the kernel has no SCTP (CONFIG_IP_SCTP unset, as on the machine
this was written on) opening one raises `SctpUnavailableError`; use the in-memory transport there.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import errno
import functools
import itertools
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Union

from omnidesk.cbc import cbsp, sbcap
from omnidesk.cbc.period import DEFAULT_REPETITION_PERIOD_LAYOUT, RepetitionPeriodLayout

__all__ = [
    "CBSP", "SBCAP", "TransportError", "ConnectionClosed", "SctpUnavailableError", "DecodeFailure",
    "PeerConnection", "Listener", "MemoryNetwork", "connect", "listen", "sctp_available",
]

CBSP = "cbsp"
SBCAP = "sbcap"

Message = Union[cbsp.CbspMessage, sbcap.SbcapMessage]


class TransportError(ConnectionError):
    """A peer connection could not be opened or was lost."""


class ConnectionClosed(TransportError):
    """The connection is gone (closed by either side or broken)."""


class SctpUnavailableError(TransportError):
    """The running kernel cannot open SCTP sockets, so SBc-AP cannot reach a real MME from here."""


@dataclass(frozen=True)
class DecodeFailure:
    """Octets from the peer that are not a valid message. `fatal` means the byte stream is out of step
    and the connection must be closed (a CBSP framing error)."""

    error: Exception
    octets: bytes = b""
    fatal: bool = False

    @property
    def cause(self) -> Any:
        return getattr(self.error, "cause", None)


# ---------------------------------------------------------------------------------------------
# Codecs per protocol


@functools.lru_cache(maxsize=512)
def _sbcap_encode(message: sbcap.SbcapMessage) -> bytes:
    # Messages are frozen dataclasses; a warning fanned out to many MMEs is encoded once.
    return sbcap.encode(message)


@functools.lru_cache(maxsize=512)
def _sbcap_decode(octets: bytes) -> sbcap.SbcapMessage:
    return sbcap.decode(octets)


# An SBc-AP PDU this large (a Broadcast-Scheduled-Area-List of thousands of cells: 65,535 cells take about
# a second) is decoded on a worker thread, so the event loop keeps serving every other peer meanwhile.
LARGE_PDU_OCTETS = 8192
_large_decoder = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sbcap-decode")


class _Codec:
    def __init__(self, protocol: str, layout: RepetitionPeriodLayout):
        if protocol not in (CBSP, SBCAP):
            raise ValueError(f"protocol {protocol!r} is neither {CBSP!r} nor {SBCAP!r}")
        self.protocol = protocol
        self.layout = layout

    def encode(self, message: Message) -> bytes:
        if self.protocol == CBSP:
            return cbsp.encode(message, repetition_period_layout=self.layout)  # type: ignore[arg-type]
        try:
            return _sbcap_encode(message)  # type: ignore[arg-type]
        except TypeError:  # unhashable field value: encode without the cache
            return sbcap.encode(message)  # type: ignore[arg-type]

    def decode(self, octets: bytes) -> Message | DecodeFailure:
        try:
            if self.protocol == CBSP:
                return cbsp.decode(octets, repetition_period_layout=self.layout)
            if len(octets) > LARGE_PDU_OCTETS:  # not kept in the cache: a few of these would hold megabytes
                return sbcap.decode(bytes(octets))
            return _sbcap_decode(bytes(octets))
        except (cbsp.CbspDecodeError, sbcap.SbcapDecodeError) as exc:
            return DecodeFailure(exc, bytes(octets))

    async def decode_async(self, octets: bytes) -> Message | DecodeFailure:
        if self.protocol == SBCAP and len(octets) > LARGE_PDU_OCTETS:
            return await asyncio.get_running_loop().run_in_executor(_large_decoder, self.decode, bytes(octets))
        return self.decode(octets)


# ---------------------------------------------------------------------------------------------
# The interface


class PeerConnection(abc.ABC):
    """One association with one peer, carrying typed messages of one protocol."""

    protocol: str
    remote: str  # host:port or memory address, for logs and for matching server-role peers

    @abc.abstractmethod
    async def send(self, message: Message) -> None:
        """Encode and send; raises ConnectionClosed when the connection is gone (encode errors propagate)."""

    @abc.abstractmethod
    async def receive(self) -> Message | DecodeFailure:
        """The next message from the peer; raises ConnectionClosed at the end of the connection."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close now (idempotent); a pending receive() then raises ConnectionClosed."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool: ...

    @property
    def remote_host(self) -> str:
        return self.remote.rsplit(":", 1)[0]


class Listener(abc.ABC):
    """A listening endpoint; `address` is what peers connect to (the real port when 0 was asked)."""

    address: tuple[str, int | str]

    @abc.abstractmethod
    def close(self) -> None: ...


OnConnection = Callable[[PeerConnection], Union[Awaitable[None], None]]


def _spawn(on_connection: OnConnection, connection: PeerConnection) -> None:
    result = on_connection(connection)
    if asyncio.iscoroutine(result):
        asyncio.get_running_loop().create_task(result)


# ---------------------------------------------------------------------------------------------
# CBSP over TCP


class CbspTcpConnection(PeerConnection):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 layout: RepetitionPeriodLayout = DEFAULT_REPETITION_PERIOD_LAYOUT):
        self.protocol = CBSP
        self._reader = reader
        self._writer = writer
        self._codec = _Codec(CBSP, layout)
        self._reassembler = cbsp.CbspReassembler()
        self._pending: deque[Message | DecodeFailure] = deque()
        self._closed = False
        peer = writer.get_extra_info("peername") or ("?", 0)
        self.remote = f"{peer[0]}:{peer[1]}"
        sock = writer.get_extra_info("socket")
        if sock is not None:
            try:  # CBSP messages are small and answered one by one: do not let Nagle hold them back
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    @property
    def closed(self) -> bool:
        return self._closed

    async def send(self, message: Message) -> None:
        if self._closed:
            raise ConnectionClosed(f"connection to {self.remote} is closed")
        octets = self._codec.encode(message)
        try:
            self._writer.write(octets)
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:
            self.close()
            raise ConnectionClosed(f"connection to {self.remote} lost while sending: {exc}") from None

    async def receive(self) -> Message | DecodeFailure:
        while not self._pending:
            if self._closed:
                raise ConnectionClosed(f"connection to {self.remote} is closed")
            try:
                chunk = await self._reader.read(65536)
            except (OSError, asyncio.IncompleteReadError) as exc:
                self.close()
                raise ConnectionClosed(f"connection to {self.remote} lost: {exc}") from None
            if not chunk:
                self.close()
                cut = self._reassembler.pending
                raise ConnectionClosed(f"{self.remote} closed the connection"
                                       + (f" in the middle of a message ({cut} octets held)" if cut else ""))
            try:
                for octets in self._reassembler.feed(chunk):
                    self._pending.append(self._codec.decode(octets))
            except cbsp.CbspFramingError as exc:
                self._pending.append(DecodeFailure(exc, b"", fatal=True))
        return self._pending.popleft()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._writer.close()
        except (OSError, RuntimeError):
            pass


class _TcpListener(Listener):
    def __init__(self, server: asyncio.AbstractServer):
        self._server = server
        sockname = server.sockets[0].getsockname()
        self.address = (sockname[0], sockname[1])

    def close(self) -> None:
        self._server.close()


# ---------------------------------------------------------------------------------------------
# SBc-AP over SCTP (stdlib socket)

SCTP_SNDINFO = 2  # cmsg type, linux/sctp.h
_MSG_EOR = getattr(socket, "MSG_EOR", 0x80)
_SCTP_MISSING = {errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT, errno.EAFNOSUPPORT, errno.EPFNOSUPPORT}


def _sctp_socket(family: int = socket.AF_INET) -> socket.socket:
    try:
        return socket.socket(family, socket.SOCK_STREAM, getattr(socket, "IPPROTO_SCTP", 132))
    except OSError as exc:
        if exc.errno in _SCTP_MISSING:
            raise SctpUnavailableError(
                f"SCTP is not available in this kernel ({exc.strerror}); SBc-AP needs SCTP to reach an MME. "
                "Load the kernel's sctp module (modprobe sctp) on a host that has it, or use the in-memory "
                "transport (transport='memory') for tests and demos.") from None
        raise


def sctp_available() -> bool:
    try:
        _sctp_socket().close()
        return True
    except OSError:
        return False


class SctpSbcapConnection(PeerConnection):
    """One SCTP association (one-to-one style socket); every message goes out with PPID 24."""

    def __init__(self, sock: socket.socket, remote: str):
        self.protocol = SBCAP
        self._sock = sock
        sock.setblocking(False)
        self._codec = _Codec(SBCAP, DEFAULT_REPETITION_PERIOD_LAYOUT)
        self._closed = False
        self.remote = remote
        # struct sctp_sndinfo {u16 sid; u16 flags; u32 ppid; u32 context; s32 assoc_id}; ppid goes on the
        # wire as given, so it is stored in network order.
        self._sndinfo = struct.pack("=HHIIi", 0, 0, socket.htonl(sbcap.SCTP_PPID), 0, 0)

    @property
    def closed(self) -> bool:
        return self._closed

    async def _wait(self, add: Callable, remove: Callable) -> None:
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        add(self._sock.fileno(), lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            remove(self._sock.fileno())

    async def send(self, message: Message) -> None:
        if self._closed:
            raise ConnectionClosed(f"association with {self.remote} is closed")
        octets = self._codec.encode(message)
        loop = asyncio.get_running_loop()
        while True:
            try:
                self._sock.sendmsg([octets], [(socket.IPPROTO_SCTP, SCTP_SNDINFO, self._sndinfo)])
                return
            except (BlockingIOError, InterruptedError):
                await self._wait(loop.add_writer, loop.remove_writer)
            except OSError as exc:
                self.close()
                raise ConnectionClosed(f"association with {self.remote} lost while sending: {exc}") from None

    async def receive(self) -> Message | DecodeFailure:
        loop = asyncio.get_running_loop()
        parts: list[bytes] = []
        while True:
            if self._closed:
                raise ConnectionClosed(f"association with {self.remote} is closed")
            try:
                data, _ancillary, flags, _address = self._sock.recvmsg(65536)
            except (BlockingIOError, InterruptedError):
                await self._wait(loop.add_reader, loop.remove_reader)
                continue
            except OSError as exc:
                self.close()
                raise ConnectionClosed(f"association with {self.remote} lost: {exc}") from None
            if not data:
                self.close()
                raise ConnectionClosed(f"{self.remote} shut the association down")
            parts.append(data)
            if flags & _MSG_EOR or not _MSG_EOR:
                octets = b"".join(parts)
                if len(octets) > sbcap.MAX_PDU_OCTETS:
                    return DecodeFailure(sbcap.SbcapDecodeError("PDU too large",
                                                                cause=sbcap.Cause.TRANSFER_SYNTAX_ERROR), b"")
                return await self._codec.decode_async(octets)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass


class _SctpListener(Listener):
    def __init__(self, sock: socket.socket, task: asyncio.Task):
        self._sock = sock
        self._task = task
        self.address = sock.getsockname()[:2]

    def close(self) -> None:
        self._task.cancel()
        self._sock.close()


async def _sctp_connect(host: str, port: int) -> SctpSbcapConnection:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family, _, _, _, address = infos[0]
    sock = _sctp_socket(family)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, address)
    except OSError:
        sock.close()
        raise
    return SctpSbcapConnection(sock, f"{address[0]}:{address[1]}")


async def _sctp_listen(host: str, port: int, on_connection: OnConnection) -> _SctpListener:
    sock = _sctp_socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()

    async def accept_forever() -> None:
        while True:
            client, address = await loop.sock_accept(sock)
            _spawn(on_connection, SctpSbcapConnection(client, f"{address[0]}:{address[1]}"))

    return _SctpListener(sock, loop.create_task(accept_forever()))


# ---------------------------------------------------------------------------------------------
# In memory: both ends may live on different event loops (threads); messages still go through the codec.

_EOF = object()


class MemoryConnection(PeerConnection):
    def __init__(self, protocol: str, loop: asyncio.AbstractEventLoop, remote: str,
                 layout: RepetitionPeriodLayout = DEFAULT_REPETITION_PERIOD_LAYOUT):
        self.protocol = protocol
        self.remote = remote
        self._loop = loop
        self._codec = _Codec(protocol, layout)
        self._queue: asyncio.Queue = asyncio.Queue()
        self._other: MemoryConnection | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def _deliver(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # that side's loop is closed: the far end is gone
            pass

    async def send(self, message: Message) -> None:
        other = self._other
        if self._closed or other is None or other._closed:
            self.close()
            raise ConnectionClosed(f"in-memory connection to {self.remote} is closed")
        other._deliver(self._codec.encode(message))

    async def receive(self) -> Message | DecodeFailure:
        if self._closed and self._queue.empty():
            raise ConnectionClosed(f"in-memory connection to {self.remote} is closed")
        item = await self._queue.get()
        if item is _EOF:
            self._closed = True
            self._queue.put_nowait(_EOF)  # every later receive() ends too
            raise ConnectionClosed(f"in-memory connection to {self.remote} closed")
        return await self._codec.decode_async(item)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._deliver(_EOF)
        if self._other is not None:
            self._other._deliver(_EOF)


class _MemoryListener(Listener):
    def __init__(self, network: MemoryNetwork, address: tuple[str, int | str], protocol: str,
                 loop: asyncio.AbstractEventLoop, on_connection: OnConnection, layout: RepetitionPeriodLayout):
        self.network = network
        self.address = address
        self.protocol = protocol
        self.loop = loop
        self.on_connection = on_connection
        self.layout = layout

    def close(self) -> None:
        self.network._unregister(self)


class MemoryNetwork:
    """Addresses -> in-memory listeners; share one between a CBC and its simulators."""

    def __init__(self) -> None:
        self._listeners: dict[tuple[str, int | str], _MemoryListener] = {}
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    def listen(self, host: str, port: int | str, protocol: str, on_connection: OnConnection,
               layout: RepetitionPeriodLayout = DEFAULT_REPETITION_PERIOD_LAYOUT) -> Listener:
        listener = _MemoryListener(self, (host, port), protocol, asyncio.get_running_loop(), on_connection, layout)
        with self._lock:
            if (host, port) in self._listeners:
                raise TransportError(f"in-memory address {host}:{port} is already in use")
            self._listeners[(host, port)] = listener
        return listener

    def _unregister(self, listener: _MemoryListener) -> None:
        with self._lock:
            if self._listeners.get(listener.address) is listener:
                del self._listeners[listener.address]

    def connect(self, host: str, port: int | str, protocol: str,
                layout: RepetitionPeriodLayout = DEFAULT_REPETITION_PERIOD_LAYOUT) -> MemoryConnection:
        with self._lock:
            listener = self._listeners.get((host, port))
        if listener is None:
            raise TransportError(f"nothing listens on in-memory address {host}:{port}")
        if listener.protocol != protocol:
            raise TransportError(f"in-memory address {host}:{port} speaks {listener.protocol}, not {protocol}")
        client = MemoryConnection(protocol, asyncio.get_running_loop(), f"{host}:{port}", layout)
        server = MemoryConnection(protocol, listener.loop, f"memory-client-{next(self._counter)}:0", listener.layout)
        client._other, server._other = server, client
        try:
            listener.loop.call_soon_threadsafe(_spawn, listener.on_connection, server)
        except RuntimeError:
            raise TransportError(f"in-memory listener {host}:{port} is gone") from None
        return client


# ---------------------------------------------------------------------------------------------
# Entry points


async def connect(protocol: str, transport: str, host: str, port: int | str, *,
                  layout: RepetitionPeriodLayout = DEFAULT_REPETITION_PERIOD_LAYOUT,
                  network: MemoryNetwork | None = None) -> PeerConnection:
    """Open a connection to a peer. transport is 'tcp' (CBSP), 'sctp' (SBc-AP) or 'memory'."""
    if transport == "memory":
        if network is None:
            raise TransportError("the in-memory transport needs a MemoryNetwork")
        return network.connect(host, port, protocol, layout)
    if transport == "tcp":
        if protocol != CBSP:
            raise TransportError("SBc-AP runs over SCTP, not TCP")
        reader, writer = await asyncio.open_connection(host, int(port))
        return CbspTcpConnection(reader, writer, layout)
    if transport == "sctp":
        if protocol != SBCAP:
            raise TransportError("CBSP runs over TCP, not SCTP")
        return await _sctp_connect(host, int(port))
    raise TransportError(f"unknown transport {transport!r}; use 'tcp', 'sctp' or 'memory'")


async def listen(protocol: str, transport: str, host: str, port: int | str, on_connection: OnConnection, *,
                 layout: RepetitionPeriodLayout = DEFAULT_REPETITION_PERIOD_LAYOUT,
                 network: MemoryNetwork | None = None) -> Listener:
    """Accept connections from peers; on_connection(connection) runs on the calling loop."""
    if transport == "memory":
        if network is None:
            raise TransportError("the in-memory transport needs a MemoryNetwork")
        return network.listen(host, port, protocol, on_connection, layout)
    if transport == "tcp":
        if protocol != CBSP:
            raise TransportError("SBc-AP runs over SCTP, not TCP")

        def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            _spawn(on_connection, CbspTcpConnection(reader, writer, layout))

        server = await asyncio.start_server(accepted, host, int(port), reuse_address=True)
        return _TcpListener(server)
    if transport == "sctp":
        if protocol != SBCAP:
            raise TransportError("CBSP runs over TCP, not SCTP")
        return await _sctp_listen(host, int(port), on_connection)
    raise TransportError(f"unknown transport {transport!r}; use 'tcp', 'sctp' or 'memory'")

"""CBC transports and the per-peer link state machine against simulated BSCs and MMEs (real loopback TCP for CBSP)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from omnidesk.cbc import cbsp, sbcap
from omnidesk.cbc.engine import BackgroundLoop, CellBroadcastCentre, EngineTimers, EventKind, PeerConfig
from omnidesk.cbc.links import LinkState, LinkTimers
from omnidesk.cbc.pages import GeographicalScope, SerialNumber
from omnidesk.cbc.simulator import BscSimulator, MmeSimulator
from omnidesk.cbc.transport import (
    ConnectionClosed,
    DecodeFailure,
    MemoryNetwork,
    SctpUnavailableError,
    connect,
    listen,
    sctp_available,
)

FAST_LINK = LinkTimers(connect_timeout=1.0, reset_timeout=0.5, keepalive_interval=0.15, keepalive_timeout=0.15,
                       backoff_initial=0.05, backoff_factor=2.0, backoff_maximum=0.4)


@pytest.fixture
def sims():
    loop = BackgroundLoop("simulators")
    started = []

    def start(sim):
        loop.run(sim.start())
        started.append(sim)
        return sim

    yield loop, start
    for sim in started:
        loop.run(sim.stop())
    loop.stop()


@pytest.fixture
def network():
    return MemoryNetwork()


@pytest.fixture
def cbc(network):
    events = []
    lock = threading.Lock()
    engine = CellBroadcastCentre(EngineTimers(FAST_LINK, answer_timeout=0.5, warning_timeout=1.0), network)

    def record(event):
        with lock:
            events.append(event)

    engine.subscribe(record)
    engine.events = events
    yield engine
    engine.close()


def wait_until(predicate, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


# -- transports ----------------------------------------------------------------------------------


def test_cbsp_over_tcp_reassembles_messages_split_across_segments():
    async def scenario():
        got = asyncio.Queue()
        server = await listen("cbsp", "tcp", "127.0.0.1", 0, lambda c: got.put_nowait(c))
        reader, writer = await asyncio.open_connection(*server.address)
        accepted = await got.get()
        octets = cbsp.encode(cbsp.Reset(cbsp.CellList.whole_bss())) + cbsp.encode(cbsp.KeepAliveComplete())
        for i in range(len(octets)):  # one octet per segment
            writer.write(octets[i:i + 1])
            await writer.drain()
        first, second = await accepted.receive(), await accepted.receive()
        writer.write(b"\x55\x00\x00\x00")  # an unknown message type still frames, and decodes to a failure
        third = await accepted.receive()
        writer.close()
        with pytest.raises(ConnectionClosed):
            await accepted.receive()
        server.close()
        return first, second, third

    first, second, third = asyncio.run(scenario())
    assert first == cbsp.Reset(cbsp.CellList.whole_bss())
    assert second == cbsp.KeepAliveComplete()
    assert isinstance(third, DecodeFailure) and third.cause == cbsp.Cause.UNRECOGNISED_MESSAGE and not third.fatal


def test_in_memory_transport_carries_sbcap_through_the_codec_between_two_loops(network):
    other = BackgroundLoop("other")
    try:
        received = []

        async def serve(connection):
            received.append(await connection.receive())
            await connection.send(sbcap.WriteReplaceWarningResponse(4370, SerialNumber(GeographicalScope.PLMN_WIDE, 1, 0),
                                                                    sbcap.Cause.MESSAGE_ACCEPTED))

        listener = other.run(_listen_memory(network, serve))

        async def client():
            connection = await connect("sbcap", "memory", "mme", 29168, network=network)
            await connection.send(sbcap.StopWarningRequest(4370, SerialNumber(GeographicalScope.PLMN_WIDE, 1, 0)))
            answer = await connection.receive()
            connection.close()
            return answer

        answer = asyncio.run(client())
        listener.close()
    finally:
        other.stop()
    assert isinstance(received[0], sbcap.StopWarningRequest)
    assert answer.accepted


async def _listen_memory(network, serve):
    return await listen("sbcap", "memory", "mme", 29168, serve, network=network)


@pytest.mark.skipif(sctp_available(), reason="this kernel has SCTP; the unavailable path cannot be seen here")
def test_sctp_without_kernel_support_raises_a_typed_error_that_says_what_to_do():
    async def attempt():
        await connect("sbcap", "sctp", "127.0.0.1", 29168)

    with pytest.raises(SctpUnavailableError) as error:
        asyncio.run(attempt())
    assert "SCTP is not available in this kernel" in str(error.value)
    assert "in-memory transport" in str(error.value)


def test_an_sctp_peer_on_a_kernel_without_sctp_backs_off_with_the_reason(cbc):
    if sctp_available():
        pytest.skip("this kernel has SCTP")
    cbc.configure_peer(PeerConfig("mme-real", "sbcap", "client", "127.0.0.1")).result(5)
    wait_until(lambda: cbc.peer("mme-real").connection_failures >= 1, what="a failed attempt")
    assert "SCTP is not available" in cbc.peer("mme-real").reason


# -- CBSP link: RESET, keep-alive, back-off ----------------------------------------------------------


def test_cbsp_link_comes_up_after_the_reset_handshake_and_keeps_alive(sims, cbc):
    loop, start = sims
    bsc = start(BscSimulator("bsc1"))
    cbc.configure_peer(PeerConfig("bsc1", "cbsp", "client", "127.0.0.1", bsc.address[1])).result(5)
    status = cbc.wait_for_link("bsc1", 5)
    assert status.state in (LinkState.UP, LinkState.KEEPALIVE_PENDING)
    assert bsc.received_of(cbsp.Reset)[0] == cbsp.Reset(cbsp.CellList.whole_bss())
    wait_until(lambda: len(bsc.received_of(cbsp.KeepAlive)) >= 3, what="three keep-alives")
    assert cbc.peer("bsc1").times_up == 1  # answered keep-alives keep the same link
    assert not [e for e in cbc.events if e.kind is EventKind.LINK_DOWN]


def test_unanswered_keepalive_takes_the_link_down_and_it_reconnects_with_back_off(sims, cbc):
    loop, start = sims
    bsc = start(BscSimulator("bsc1", answer_keepalive=False))
    cbc.configure_peer(PeerConfig("bsc1", "cbsp", "client", "127.0.0.1", bsc.address[1])).result(5)
    wait_until(lambda: cbc.peer("bsc1").times_up >= 2, what="the link to come up a second time")
    downs = [e for e in cbc.events if e.kind is EventKind.LINK_DOWN]
    assert downs and "no KEEP-ALIVE COMPLETE within 0.15 s" in downs[0].detail
    backoffs = [e for e in cbc.events if e.kind is EventKind.LINK_STATE and e.state == "backing-off"]
    assert backoffs and "retrying in 0.05 s" in backoffs[0].detail
    assert bsc.connections >= 2 and len(bsc.received_of(cbsp.Reset)) >= 2


def test_back_off_grows_while_the_peer_is_unreachable_and_stops_at_the_maximum(sims, cbc):
    loop, start = sims
    bsc = start(BscSimulator("bsc1"))
    port = bsc.address[1]
    loop.run(bsc.stop())  # nothing listens there now
    cbc.configure_peer(PeerConfig("bsc1", "cbsp", "client", "127.0.0.1", port)).result(5)
    wait_until(lambda: cbc.peer("bsc1").connection_failures >= 5, what="five failed attempts")
    delays = [e.detail.rsplit("retrying in ", 1)[1] for e in cbc.events
              if e.kind is EventKind.LINK_STATE and e.state == "backing-off"]
    assert delays[:5] == ["0.05 s", "0.1 s", "0.2 s", "0.4 s", "0.4 s"]
    assert FAST_LINK.backoff(10) == 0.4
    # the peer comes back: the link comes up and the back-off starts again from the beginning
    revived = BscSimulator("bsc1", port=port)
    start(revived)
    cbc.wait_for_link("bsc1", 5)
    assert cbc.peer("bsc1").connection_failures == 0


def test_reset_without_answer_closes_the_connection_and_retries(sims, cbc):
    loop, start = sims

    class Mute(BscSimulator):
        async def handle(self, connection, message):
            if not isinstance(message, cbsp.Reset):
                await super().handle(connection, message)

    bsc = start(Mute("mute"))
    cbc.configure_peer(PeerConfig("mute", "cbsp", "client", "127.0.0.1", bsc.address[1])).result(5)
    wait_until(lambda: bsc.connections >= 2, what="a second connection")
    assert cbc.peer("mute").times_up == 0
    assert any("no answer to RESET within 0.5 s" in e.detail for e in cbc.events if e.kind is EventKind.LINK_STATE)


def test_cbc_as_server_takes_a_bsc_that_connects_to_it(sims, cbc):
    loop, start = sims
    status = cbc.configure_peer(PeerConfig("bsc-in", "cbsp", "server", "127.0.0.1", 0)).result(5)
    assert status.state is LinkState.LISTENING
    bsc = start(BscSimulator("bsc-in", role="client", port=status.listen_address[1]))
    cbc.wait_for_link("bsc-in", 5)
    assert bsc.received_of(cbsp.Reset)
    loop.run(bsc.stop())
    wait_until(lambda: cbc.peer("bsc-in").state is LinkState.LISTENING, what="listening again")


def test_sbcap_link_is_up_on_connect_with_no_application_handshake(sims, cbc, network):
    loop, start = sims
    mme = start(MmeSimulator("mme1", network=network))
    cbc.configure_peer(PeerConfig("mme1", "sbcap", "client", "mme1", 29168, transport="memory")).result(5)
    cbc.wait_for_link("mme1", 5)
    time.sleep(0.3)
    assert mme.received == []  # no RESET, no keep-alive: SCTP heartbeats do that job
    loop.run(mme.stop())
    wait_until(lambda: not cbc.peer("mme1").is_up, what="link down")
    assert any(e.kind is EventKind.LINK_DOWN and e.peer == "mme1" for e in cbc.events)


def test_a_huge_sbcap_indication_is_decoded_without_stalling_the_other_peers():
    """65,535 scheduled cells take about a second to decode; the loop keeps running meanwhile."""
    plmn = sbcap.Plmn("001", "01")
    cells = tuple(sbcap.EutranCellId(plmn, i) for i in range(1, 65536))
    huge = sbcap.WriteReplaceWarningIndication(4370, SerialNumber(GeographicalScope.PLMN_WIDE, 1, 0),
                                               sbcap.BroadcastScheduledAreaList(cells=cells))

    async def scenario():
        network = MemoryNetwork()
        got = asyncio.Queue()
        await listen("sbcap", "memory", "mme", 29168, lambda c: got.put_nowait(c), network=network)
        cbc_side = await connect("sbcap", "memory", "mme", 29168, network=network)
        mme_side = await got.get()
        gaps, ticking = [], True

        async def ticker():
            last = time.perf_counter()
            while ticking:
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        task = asyncio.get_running_loop().create_task(ticker())
        await mme_side.send(huge)
        started = time.perf_counter()
        received = await cbc_side.receive()
        took = time.perf_counter() - started
        ticking = False
        await task
        return received, took, max(gaps)

    received, took, worst_gap = asyncio.run(scenario())
    assert received == huge
    assert worst_gap < max(0.25, took / 3), f"the loop stalled {worst_gap:.3f} s of a {took:.3f} s decode"

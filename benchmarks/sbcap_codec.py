"""Benchmark: SBc-AP encode + decode throughput of a Write-Replace-Warning-Request with a 2-page GSM 7-bit text
and a warning area of 50 cells, on one core.

    .venv/bin/python benchmarks/sbcap_codec.py [--seconds 2] [--rounds 5]

Prints messages per second for encode+decode (the issue's number), and encode and decode alone; the
best of several rounds, so a neighbour's burst on a shared machine does not decide the result. Each
line gives the wall-clock rate and, in brackets, the rate per second of this process's CPU time, which
a busy machine disturbs much less.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

from omnidesk.cbc import sbcap
from omnidesk.cbc.pages import GeographicalScope, SerialNumber
from omnidesk.cbc.sbcap import CellIdList, EutranCellId, Plmn, TrackingAreaId

TEXT = ("Civil protection: severe flood warning for the river valley. Move to higher ground now; "
        "follow police instructions and listen to local radio for updates. This is not a test.")


def sample_message() -> sbcap.WriteReplaceWarningRequest:
    plmn = Plmn("901", "70")
    cells = tuple(EutranCellId(plmn, ((100 + i // 10) << 8) | (i % 10)) for i in range(50))
    message = sbcap.WriteReplaceWarningRequest.with_text(
        message_identifier=4370, serial_number=SerialNumber(GeographicalScope.PLMN_WIDE, 42, 3), text=TEXT,
        repetition_period=30, number_of_broadcasts_requested=0, language="en",
        tracking_areas=(TrackingAreaId(plmn, 23),), warning_area=CellIdList(cells))
    assert len(message.pages) == 2 and message.text == TEXT
    return message


def rate(operation, seconds: float, rounds: int) -> tuple[float, float]:
    """Best operations per second over `rounds` rounds of about `seconds` each: (wall clock, CPU time)."""
    best_wall = best_cpu = 0.0
    for _ in range(rounds):
        count, batch = 0, 20
        start, start_cpu = time.perf_counter(), time.process_time()
        deadline = start + seconds
        while True:
            for _ in range(batch):
                operation()
            count += batch
            now = time.perf_counter()
            if now >= deadline:
                break
        best_wall = max(best_wall, count / (now - start))
        best_cpu = max(best_cpu, count / max(time.process_time() - start_cpu, 1e-9))
    return best_wall, best_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one round (default 2 s)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is reported (default 5)")
    args = parser.parse_args(argv)

    message = sample_message()
    octets = sbcap.encode(message)
    assert sbcap.decode(octets) == message

    def both() -> None:
        sbcap.decode(sbcap.encode(message))

    rate(both, 0.3, 1)  # warm up (pycrate is imported on first use)
    encode_decode = rate(both, args.seconds, args.rounds)
    encode_only = rate(lambda: sbcap.encode(message), args.seconds / 2, args.rounds)
    decode_only = rate(lambda: sbcap.decode(octets), args.seconds / 2, args.rounds)
    print(f"SBc-AP Write-Replace-Warning-Request, 2 pages GSM 7-bit, 50 E-UTRAN cells, {len(octets)} octets; "
          f"Python {platform.python_version()} on one core")
    for label, (wall, cpu) in (("encode + decode", encode_decode), ("encode only", encode_only),
                               ("decode only", decode_only)):
        print(f"  {label + ':':16} {wall:,.0f} messages/s  ({cpu:,.0f} per CPU-second)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

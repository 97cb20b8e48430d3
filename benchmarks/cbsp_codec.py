"""Benchmark: CBSP encode + decode throughput of a 2-page GSM 7-bit WRITE-REPLACE to 50 cells, on one core.

    .venv/bin/python benchmarks/cbsp_codec.py [--seconds 2] [--rounds 5]

Prints messages per second for encode+decode (the issue's number), and encode and decode alone; the
best of several rounds, so a neighbour's burst on a shared machine does not decide the result.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

from omnidesk.cbc import cbsp
from omnidesk.cbc.cbsp import CellGlobalId, CellList, Plmn
from omnidesk.cbc.pages import GeographicalScope, SerialNumber

TEXT = ("Civil protection: severe flood warning for the river valley. Move to higher ground now; "
        "follow police instructions and listen to local radio for updates. This is not a test.")


def sample_message() -> cbsp.WriteReplace:
    cells = CellList.of(*(CellGlobalId(Plmn("901", "70"), 100 + i // 10, 1000 + i) for i in range(50)))
    message = cbsp.WriteReplace.with_text(
        message_id=4370, new_serial_number=SerialNumber(GeographicalScope.PLMN_WIDE, 42, 3), cell_list=cells,
        text=TEXT, repetition_period=30, number_of_broadcasts_requested=0, language="en")
    assert len(message.pages) == 2 and message.text == TEXT
    return message


def rate(operation, seconds: float, rounds: int) -> float:
    """Best operations per second over `rounds` rounds of about `seconds` each."""
    best = 0.0
    for _ in range(rounds):
        count, batch = 0, 200
        start = time.perf_counter()
        deadline = start + seconds
        while True:
            for _ in range(batch):
                operation()
            count += batch
            now = time.perf_counter()
            if now >= deadline:
                break
        best = max(best, count / (now - start))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of one round (default 2 s)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is reported (default 5)")
    args = parser.parse_args(argv)

    message = sample_message()
    octets = cbsp.encode(message)
    assert cbsp.decode(octets) == message

    def both() -> None:
        cbsp.decode(cbsp.encode(message))

    rate(both, 0.3, 1)  # warm up
    encode_decode = rate(both, args.seconds, args.rounds)
    encode_only = rate(lambda: cbsp.encode(message), args.seconds / 2, args.rounds)
    decode_only = rate(lambda: cbsp.decode(octets), args.seconds / 2, args.rounds)
    print(f"CBSP WRITE-REPLACE, 2 pages GSM 7-bit, 50 CGI cells, {len(octets)} octets; "
          f"Python {platform.python_version()} on one core")
    print(f"  encode + decode: {encode_decode:,.0f} messages/s")
    print(f"  encode only:     {encode_only:,.0f} messages/s")
    print(f"  decode only:     {decode_only:,.0f} messages/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

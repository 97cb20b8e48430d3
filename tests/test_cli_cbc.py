"""`omnidesk cbc encode` / `omnidesk cbc decode` and the JSON shapes behind them (no database needed)."""

from __future__ import annotations

import io
import json

import pytest
from test_cbsp_samples import SAMPLES as CBSP_SAMPLES
from test_cbsp_samples import golden_vectors as cbsp_golden_vectors
from test_sbcap_samples import SAMPLES as SBCAP_SAMPLES
from test_sbcap_samples import golden_vectors as sbcap_golden_vectors

from omnidesk import cli
from omnidesk.cbc import cbsp, json_shapes, sbcap
from omnidesk.cbc.json_shapes import JsonShapeError, from_json, to_json
from cli_helpers import run

CBSP_GOLDEN = cbsp_golden_vectors()
SBCAP_GOLDEN = sbcap_golden_vectors()
# air_page_* is a CBS page as a BTS sends it, not CBSP; probe_rp_120c reads as 4620 > 4095 in the default
# osmocom layout (it is the spec-layout probe, tested with --layout spec below).
CBSP_MESSAGES = {name: octets for name, octets in CBSP_GOLDEN.items()
                 if not name.startswith("air_page") and name != "probe_rp_120c"}


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("OMNIDESK_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("OMNIDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("OMNIDESK_DATABASE_URL", raising=False)
    monkeypatch.delenv("OMNIDESK_PROFILE", raising=False)


def encode_json(capsys, tmp_path, protocol: str, data, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "message.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return run(capsys, "cbc", "encode", "--protocol", protocol, *extra, str(path))


def test_the_clis_protocols_are_the_json_shapes_protocols():
    assert cli.CBC_PROTOCOLS == json_shapes.PROTOCOLS


# --- golden vectors through the CLI ---


@pytest.mark.parametrize("name", sorted(CBSP_MESSAGES))
def test_a_cbsp_golden_vector_decodes_to_json_that_encodes_back_to_the_same_octets(capsys, tmp_path, name):
    hex_in = CBSP_MESSAGES[name].hex()
    code, out, err = run(capsys, "cbc", "decode", "--protocol", "cbsp", hex_in)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["message"] == type(cbsp.decode(CBSP_MESSAGES[name])).__name__
    assert encode_json(capsys, tmp_path, "cbsp", out) == (0, hex_in + "\n", "")


@pytest.mark.parametrize("name", sorted(SBCAP_GOLDEN))
def test_an_sbcap_golden_vector_decodes_to_json_that_encodes_back_to_the_same_octets(capsys, tmp_path, name):
    hex_in = SBCAP_GOLDEN[name].hex()
    code, out, err = run(capsys, "cbc", "decode", "--protocol", "sbcap", hex_in)
    assert (code, err) == (0, "")
    assert json.loads(out)["message"] == type(sbcap.decode(SBCAP_GOLDEN[name])).__name__
    assert encode_json(capsys, tmp_path, "sbcap", out) == (0, hex_in + "\n", "")


def test_decode_prints_the_fields_by_name_with_enums_by_name_and_bytes_as_hex(capsys):
    code, out, _ = run(capsys, "cbc", "decode", "--protocol", "cbsp", CBSP_GOLDEN["tx_write_replace_1000_cgi_addressed"].hex())
    data = json.loads(out)
    assert code == 0
    assert data["message"] == "WriteReplace"
    assert data["message_id"] == 1000
    assert data["new_serial_number"] == {"geographical_scope": "PLMN_WIDE", "message_code": 2, "update_number": 0}
    assert data["cell_list"] == {"kind": "CGI", "cells": [
        {"type": "CellGlobalId", "plmn": {"mcc": "901", "mnc": "70"}, "lac": 23, "ci": 42}]}
    assert data["category"] == "NORMAL" and data["old_serial_number"] is None
    assert data["pages"][0]["content"].startswith("c36312142693")


def test_decode_accepts_hex_with_spaces_colons_and_in_several_arguments(capsys):
    octets = CBSP_GOLDEN["rx_reset_complete_bss"]
    expected = run(capsys, "cbc", "decode", "--protocol", "cbsp", octets.hex())
    assert expected[0] == 0
    assert run(capsys, "cbc", "decode", "--protocol", "cbsp", octets.hex(":")) == expected
    assert run(capsys, "cbc", "decode", "--protocol", "cbsp", octets.hex(" ")) == expected
    assert run(capsys, "cbc", "decode", "--protocol", "cbsp", *octets.hex(" ").split()) == expected
    assert run(capsys, "cbc", "decode", "--protocol", "cbsp", octets.hex().upper()) == expected


def test_encode_reads_standard_input_for_a_dash(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(to_json(cbsp.KeepAlive(30)))))
    assert run(capsys, "cbc", "encode", "--protocol", "cbsp", "-") == (0, cbsp.encode(cbsp.KeepAlive(30)).hex() + "\n", "")


def test_the_repetition_period_layout_is_osmocom_by_default_and_spec_on_request(capsys, tmp_path):
    message = cbsp.decode(CBSP_GOLDEN["probe_rp_012c"])
    assert message.repetition_period == 300
    data = to_json(message)
    assert encode_json(capsys, tmp_path, "cbsp", data)[1] == CBSP_GOLDEN["probe_rp_012c"].hex() + "\n"
    assert encode_json(capsys, tmp_path, "cbsp", data, "--layout", "osmocom")[1] == CBSP_GOLDEN["probe_rp_012c"].hex() + "\n"
    assert encode_json(capsys, tmp_path, "cbsp", data, "--layout", "spec")[1] == CBSP_GOLDEN["probe_rp_120c"].hex() + "\n"
    code, out, _ = run(capsys, "cbc", "decode", "--protocol", "cbsp", "--layout", "spec", CBSP_GOLDEN["probe_rp_120c"].hex())
    assert code == 0 and json.loads(out)["repetition_period"] == 300


def test_layout_with_sbcap_is_a_usage_error(capsys, tmp_path):
    code, out, err = encode_json(capsys, tmp_path, "sbcap", to_json(SBCAP_SAMPLES[0][1]), "--layout", "spec")
    assert (code, out) == (2, "") and "--layout applies to CBSP only" in err


def test_an_unknown_protocol_is_a_usage_error(capsys):
    code, out, err = run(capsys, "cbc", "decode", "--protocol", "m3ua", "00")
    assert (code, out) == (2, "") and "invalid choice" in err


# --- errors: exit 1, the reason on stderr, nothing on stdout ---


@pytest.mark.parametrize(("hex_in", "message"), [
    ("01zz", "Not hex octets: 'z' is not a hex digit.\n"),
    ("010", "Not hex octets: an odd number of hex digits (3).\n"),
    (" : ", "No octets given.\n"),
])
def test_bad_hex_is_a_message(capsys, hex_in, message):
    assert run(capsys, "cbc", "decode", "--protocol", "cbsp", hex_in) == (1, "", message)


def test_a_truncated_cbsp_pdu_is_the_decoders_message(capsys):
    octets = CBSP_GOLDEN["tx_write_replace_1000_cgi_addressed"][:20]
    code, out, err = run(capsys, "cbc", "decode", "--protocol", "cbsp", octets.hex())
    assert (code, out) == (1, "")
    assert err.startswith("CBSP WRITE-REPLACE: header declares 115 octets after it but 16 follow")


def test_a_truncated_sbcap_pdu_is_the_decoders_message(capsys):
    octets = SBCAP_GOLDEN["pycrate_stop_warning_request"][:-3]
    code, out, err = run(capsys, "cbc", "decode", "--protocol", "sbcap", octets.hex())
    assert (code, out) == (1, "")
    assert err.startswith("SBc-AP PDU: ") and err.count("\n") == 1


def test_an_unknown_message_name_lists_the_known_ones(capsys, tmp_path):
    code, out, err = encode_json(capsys, tmp_path, "cbsp", {"message": "WriteReplaceWarningRequest"})
    assert (code, out) == (1, "")
    assert err.startswith('message: unknown CBSP message "WriteReplaceWarningRequest"; known: WriteReplace, ')


def test_a_field_of_the_wrong_type_names_its_path(capsys, tmp_path):
    data = to_json(cbsp.decode(CBSP_GOLDEN["tx_write_replace_1000_cgi_addressed"]))
    data["cell_list"]["cells"][0]["lac"] = "23"
    code, out, err = encode_json(capsys, tmp_path, "cbsp", data)
    assert (code, out, err) == (1, "", 'WriteReplace.cell_list.cells[0].lac: expected a whole number, not "23"\n')


def test_a_value_the_encoder_refuses_is_the_encoders_message(capsys, tmp_path):
    data = to_json(cbsp.decode(CBSP_GOLDEN["tx_write_replace_1000_cgi_addressed"]))
    data["cell_list"]["cells"][0]["lac"] = 70000
    code, out, err = encode_json(capsys, tmp_path, "cbsp", data)
    assert (code, out) == (1, "") and "LAC 70000 is outside 0..65535" in err


def test_unreadable_input_is_a_message(capsys, tmp_path):
    assert run(capsys, "cbc", "encode", "--protocol", "cbsp", str(tmp_path / "absent.json")) == (
        1, "", f"Cannot read {tmp_path / 'absent.json'}: No such file or directory.\n")
    code, out, err = encode_json(capsys, tmp_path, "cbsp", "{")
    assert (code, out) == (1, "") and err.startswith(f"{tmp_path / 'message.json'} is not JSON: ")


# --- json_shapes ---


@pytest.mark.parametrize(("label", "message"), CBSP_SAMPLES, ids=[label for label, _ in CBSP_SAMPLES])
def test_every_cbsp_sample_round_trips_through_json(label, message):
    data = json.loads(json.dumps(to_json(message)))
    assert data["message"] == type(message).__name__
    assert from_json(data, "cbsp") == message


@pytest.mark.parametrize(("label", "message"), SBCAP_SAMPLES, ids=[label for label, _ in SBCAP_SAMPLES])
def test_every_sbcap_sample_round_trips_through_json(label, message):
    data = json.loads(json.dumps(to_json(message)))
    assert data["message"] == type(message).__name__
    assert from_json(data, "sbcap") == message


def test_every_message_class_has_a_sample():
    assert {type(m).__name__ for _, m in CBSP_SAMPLES} == set(json_shapes.message_classes("cbsp"))
    assert {type(m).__name__ for _, m in SBCAP_SAMPLES} == set(json_shapes.message_classes("sbcap"))


def test_left_out_optional_fields_take_their_defaults():
    assert from_json({"message": "KeepAliveComplete"}, "cbsp") == cbsp.KeepAliveComplete()
    assert from_json({"message": "ErrorIndication", "cause": "UNRECOGNISED_MESSAGE"}, "cbsp") == cbsp.ErrorIndication(
        cbsp.Cause.UNRECOGNISED_MESSAGE)


def test_enum_or_int_fields_take_a_name_or_a_number():
    response = from_json({"message": "StopWarningResponse", "message_identifier": 1,
                          "serial_number": {"geographical_scope": "CELL_WIDE", "message_code": 1, "update_number": 0},
                          "cause": 99}, "sbcap")
    assert response.cause == 99
    named = from_json({**to_json(response), "cause": sbcap.Cause(0).name}, "sbcap")
    assert named.cause is sbcap.Cause(0)


@pytest.mark.parametrize(("data", "path", "reason"), [
    ([], "message", "expected an object"),
    ({}, "message", "missing"),
    ({"message": 7}, "message", "unknown CBSP message 7"),
    ({"message": "KeepAlive"}, "KeepAlive.repetition_period", "missing (a whole number)"),
    ({"message": "KeepAlive", "repetition_period": 30, "extra": 1}, "KeepAlive.extra", "unknown field of KeepAlive"),
    ({"message": "KeepAlive", "repetition_period": True}, "KeepAlive.repetition_period", "expected a whole number, not True"),
    ({"message": "Reset", "cell_list": {"kind": "LAC", "cells": [{"lac": 1}]}}, "Reset.cell_list.cells[0].type", "missing"),
    ({"message": "Reset", "cell_list": {"kind": "LAC", "cells": {}}}, "Reset.cell_list.cells", "expected an array"),
    ({"message": "Reset", "cell_list": {"kind": "lac", "cells": []}}, "Reset.cell_list.kind", "expected one of CGI, "),
    ({"message": "EmergencyWriteReplace", "message_id": 4352,
      "new_serial_number": {"geographical_scope": "PLMN_WIDE", "message_code": 1, "update_number": 0},
      "cell_list": {"kind": "ALL_CELLS_ON_BSS"}, "warning_type": {"kind": "EARTHQUAKE"}, "warning_period": None,
      "warning_security_information": "zz"},
     "EmergencyWriteReplace.warning_security_information", 'expected a hex string, not "zz"'),
])
def test_bad_json_names_the_field_path(data, path, reason):
    with pytest.raises(JsonShapeError) as caught:
        from_json(data, "cbsp")
    assert caught.value.path == path
    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)

"""A warning as JSON: what `omnidesk cbc send WARNING.json` reads and what the store keeps.

    {
      "message_identifier": 4370,            # 3GPP TS 23.041 message identifier (4352-6399 for warnings)
      "message_code": 1,                     # optional; the lowest code free for this identifier by default
      "geographical_scope": "PLMN_WIDE",     # optional: CELL_WIDE_IMMEDIATE, PLMN_WIDE, LOCATION_AREA_WIDE, CELL_WIDE
      "category": "HIGH_PRIORITY",           # optional: HIGH_PRIORITY, BACKGROUND, NORMAL (default)
      "repetition_period": 60,               # seconds, 1-4095
      "number_of_broadcasts": 0,             # 0 = until stopped
      "warning_period": 3600,                # optional, seconds; the centre stops the warning when it ends
      "texts": [{"language": "en", "text": "Flood warning ..."}, {"language": "de", "text": "..."}],
      "targets": {                           # optional; left out = every cell of every connected peer
        "bsc-north": [{"type": "CellGlobalId", "plmn": {"mcc": "901", "mnc": "70"}, "lac": 23, "ci": 42}],
        "mme-1": [{"type": "TrackingAreaId", "plmn": {"mcc": "901", "mnc": "70"}, "tac": 7}]
      }
    }

A CBSP peer takes cells of one kind (CellGlobalId, LacAndCi, CellIdentity, LocationAreaId,
LocationAreaCode); an SBc-AP peer TrackingAreaId, EutranCellId or emergency area ids (numbers). Which
kinds a peer takes depends on its protocol, so targets are read against the configured peers.
"""

from __future__ import annotations

from typing import Any, Mapping

from omnidesk.cbc import cbsp, sbcap
from omnidesk.cbc.engine import CbcInputError, PeerConfig, UnknownPeerError, WarningRequest, WarningText
from omnidesk.cbc.json_shapes import JsonShapeError, value_from_json, value_to_json
from omnidesk.cbc.pages import GeographicalScope

CBSP_CELL = cbsp.CellGlobalId | cbsp.LacAndCi | cbsp.CellIdentity | cbsp.LocationAreaId | cbsp.LocationAreaCode
SBCAP_AREA = sbcap.TrackingAreaId | sbcap.EutranCellId | int
_CELL_HINTS = {"cbsp": CBSP_CELL, "sbcap": SBCAP_AREA}
FIELDS = ("message_identifier", "message_code", "geographical_scope", "category", "repetition_period",
          "number_of_broadcasts", "warning_period", "texts", "targets", "update_number")


class WarningJsonError(CbcInputError):
    """JSON that does not describe a warning; the message names the field."""


def request_from_json(data: Any, peers: Mapping[str, PeerConfig], *, message_code: int | None = None) -> WarningRequest:
    """The WarningRequest `data` describes. `peers` (name -> config) decides how each peer's targets
    are read. message_code fills in a code the JSON leaves out. Raises WarningJsonError / UnknownPeerError."""
    if not isinstance(data, dict):
        raise WarningJsonError("A warning is a JSON object with message_identifier, repetition_period and texts.")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise WarningJsonError(f"Unknown field(s) {', '.join(unknown)}; a warning has {', '.join(FIELDS)}.")
    for name in ("message_identifier", "texts"):
        if name not in data:
            raise WarningJsonError(f"{name}: missing.")
    code = data.get("message_code", message_code)
    if code is None:
        raise WarningJsonError("message_code: missing.")
    values: dict[str, Any] = {
        "message_identifier": _number(data, "message_identifier"),
        "message_code": code if "message_code" not in data else _number(data, "message_code"),
        "texts": _texts(data["texts"]),
    }
    for name in ("repetition_period", "number_of_broadcasts", "update_number"):
        if name in data:
            values[name] = _number(data, name)
    if data.get("warning_period") is not None:
        period = data["warning_period"]
        if isinstance(period, bool) or not isinstance(period, (int, float)):
            raise WarningJsonError(f"warning_period: expected seconds as a number, not {period!r}.")
        values["warning_period"] = period
    if "geographical_scope" in data:
        values["geographical_scope"] = _enum(data, "geographical_scope", GeographicalScope)
    if "category" in data:
        values["category"] = _enum(data, "category", cbsp.Category)
    if data.get("targets") is not None:
        values["targets"] = targets_from_json(data["targets"], peers)
    return WarningRequest(**values)


def request_to_json(request: WarningRequest, peers: Mapping[str, PeerConfig]) -> dict[str, Any]:
    """The JSON form of a request (what the store keeps); request_from_json reads it back."""
    data: dict[str, Any] = {
        "message_identifier": request.message_identifier,
        "message_code": request.message_code,
        "geographical_scope": GeographicalScope(request.geographical_scope).name,
        "category": cbsp.Category(request.category).name,
        "repetition_period": request.repetition_period,
        "number_of_broadcasts": request.number_of_broadcasts,
        "warning_period": request.warning_period,
        "texts": texts_to_json(request.texts),
        "targets": None if request.targets is None else targets_to_json(request.targets, peers),
    }
    return data


UPDATE_FIELDS = ("texts", "repetition_period", "number_of_broadcasts", "category")


def update_from_json(data: Any) -> dict[str, Any]:
    """The keyword arguments of CellBroadcastCentre.update_warning that an update's JSON describes."""
    if not isinstance(data, dict):
        raise WarningJsonError(f"An update is a JSON object with any of {', '.join(UPDATE_FIELDS)}.")
    unknown = sorted(set(data) - set(UPDATE_FIELDS))
    if unknown:
        raise WarningJsonError(f"An update may change {', '.join(UPDATE_FIELDS)}; not {', '.join(unknown)}.")
    if not data:
        raise WarningJsonError("The update changes nothing.")
    values: dict[str, Any] = {}
    if "texts" in data:
        values["texts"] = _texts(data["texts"])
    for name in ("repetition_period", "number_of_broadcasts"):
        if name in data:
            values[name] = _number(data, name)
    if "category" in data:
        values["category"] = _enum(data, "category", cbsp.Category)
    return values


def texts_to_json(texts) -> list[dict[str, Any]]:
    out = []
    for text in texts:
        text = WarningText(text) if isinstance(text, str) else text
        out.append({"language": text.language, "text": text.text, "message_identifier": text.message_identifier})
    return out


def targets_from_json(data: Any, peers: Mapping[str, PeerConfig]) -> dict[str, list[Any]]:
    if not isinstance(data, dict):
        raise WarningJsonError("targets: expected an object {peer name: [cells or areas]}.")
    targets: dict[str, list[Any]] = {}
    for name, cells in data.items():
        config = peers.get(name)
        if config is None:
            raise UnknownPeerError(f"targets.{name}: there is no peer named {name!r}; "
                                   f"configured: {', '.join(sorted(peers)) or 'none'}.")
        if not isinstance(cells, list):
            raise WarningJsonError(f"targets.{name}: expected an array of cells or areas.")
        try:
            targets[name] = [value_from_json(cell, _CELL_HINTS[config.protocol], f"targets.{name}[{i}]")
                             for i, cell in enumerate(cells)]
        except JsonShapeError as exc:
            raise WarningJsonError(str(exc)) from None
    return targets


def targets_to_json(targets: Mapping[str, Any], peers: Mapping[str, PeerConfig]) -> dict[str, list[Any]]:
    return {name: [value_to_json(cell, _CELL_HINTS[peers[name].protocol], f"targets.{name}[{i}]")
                   for i, cell in enumerate(cells)]
            for name, cells in targets.items()}


def _number(data: dict, name: str) -> int:
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise WarningJsonError(f"{name}: expected a whole number, not {value!r}.")
    return value


def _enum(data: dict, name: str, enum_type) -> Any:
    value = data[name]
    if isinstance(value, str) and value in enum_type.__members__:
        return enum_type[value]
    raise WarningJsonError(f"{name}: expected one of {', '.join(enum_type.__members__)}, not {value!r}.")


def _texts(data: Any) -> list[WarningText]:
    if not isinstance(data, list) or not data:
        raise WarningJsonError("texts: expected a non-empty array of {\"language\": \"en\", \"text\": \"...\"}.")
    texts = []
    for i, item in enumerate(data):
        if isinstance(item, str):
            texts.append(WarningText(item))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise WarningJsonError(f"texts[{i}]: expected {{\"language\": \"en\", \"text\": \"...\"}}, not {item!r}.")
        extra = sorted(set(item) - {"language", "text", "message_identifier"})
        if extra:
            raise WarningJsonError(f"texts[{i}]: unknown field(s) {', '.join(extra)}.")
        language = item.get("language")
        if language is not None and not isinstance(language, str):
            raise WarningJsonError(f"texts[{i}].language: expected an ISO 639-1 code such as \"en\", not {language!r}.")
        identifier = item.get("message_identifier")
        if identifier is not None and (isinstance(identifier, bool) or not isinstance(identifier, int)):
            raise WarningJsonError(f"texts[{i}].message_identifier: expected a whole number, not {identifier!r}.")
        texts.append(WarningText(item["text"], language, identifier))
    return texts

"""A loopback stand-in for CGRateS (JSON-RPC on /jsonrpc) and an HSS (REST on /subscriber/IMSI).

It answers with the shapes the real systems use: CGRateS `{"id": N, "result": "OK", "error": null}`
or `{"id": N, "result": null, "error": "NOT_FOUND"}`; the HSS 200 with the subscriber, 404 when
unknown. It keeps what it was told (accounts with balances, action plans, subscribers) so a test can
check what a playbook left behind, and can be told to fail a method (`fail["ApierV1.AddBalance"] =
"SERVER_ERROR"`) to drive a playbook into its rescue.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeOcs:
    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}
        self.action_plans: dict[str, dict[str, Any]] = {}
        self.actions: dict[str, Any] = {}
        self.subscribers: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, str] = {}
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                return json.loads(raw) if raw else None

            def _send(self, code: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/jsonrpc":
                    return self._send(404, {"error": "not found"})
                req = self._body() or {}
                method, params = req.get("method"), (req.get("params") or [{}])[0]
                with fake.lock:
                    fake.calls.append((method, params))
                    if method in fake.fail:
                        return self._send(200, {"id": req.get("id"), "result": None, "error": fake.fail[method]})
                    result, error = fake._rpc(method, params)
                self._send(200, {"id": req.get("id"), "result": result, "error": error})

            def _subscriber(self, method: str) -> None:
                parts = self.path.strip("/").split("/")
                if len(parts) != 2 or parts[0] != "subscriber":
                    return self._send(404, {"error": "not found"})
                imsi = parts[1]
                body = self._body() if method in ("PUT", "PATCH") else None
                with fake.lock:
                    fake.calls.append((f"HSS {method}", {"imsi": imsi, **(body or {})}))
                    key = f"HSS {method}"
                    if key in fake.fail:
                        return self._send(500, {"error": fake.fail[key]})
                    if method == "PUT":
                        fake.subscribers[imsi] = dict(body or {})
                        return self._send(200, fake.subscribers[imsi])
                    if imsi not in fake.subscribers:
                        return self._send(404, {"error": f"subscriber {imsi} not found"})
                    if method == "DELETE":
                        del fake.subscribers[imsi]
                        return self._send(200, {"deleted": imsi})
                    fake.subscribers[imsi].update(body or {})
                    return self._send(200, fake.subscribers[imsi])

            def do_PUT(self) -> None:
                self._subscriber("PUT")

            def do_PATCH(self) -> None:
                self._subscriber("PATCH")

            def do_DELETE(self) -> None:
                self._subscriber("DELETE")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _rpc(self, method: str, p: dict[str, Any]) -> tuple[Any, Any]:
        account = p.get("Account")
        if method == "ApierV2.SetAccount":
            acct = self.accounts.setdefault(account, {"Tenant": p.get("Tenant"), "balances": {}, "ActionPlanIds": []})
            if p.get("ActionPlanIds"):
                acct["ActionPlanIds"] = list(p["ActionPlanIds"])
            acct["ExtraOptions"] = p.get("ExtraOptions") or {}
            return "OK", None
        if method in ("ApierV1.RemoveAccount", "ApierV2.RemoveAccount"):
            if account not in self.accounts:
                return None, "NOT_FOUND"
            del self.accounts[account]
            return "OK", None
        if method == "ApierV1.AddBalance":
            if account not in self.accounts:
                return None, "NOT_FOUND"
            balance = p.get("Balance") or {}
            self.accounts[account]["balances"][balance.get("ID")] = {"type": p.get("BalanceType"), **balance}
            return "OK", None
        if method == "ApierV1.RemoveBalances":
            if account not in self.accounts:
                return None, "NOT_FOUND"
            self.accounts[account]["balances"].pop((p.get("Balance") or {}).get("ID"), None)
            return "OK", None
        if method == "ApierV2.GetAccount":
            if account not in self.accounts:
                return None, "NOT_FOUND"
            acct = self.accounts[account]
            balance_map: dict[str, list] = {}
            for b in acct["balances"].values():
                expiry = str(b.get("ExpiryTime") or "")
                when = "0001-01-01T00:00:00Z"
                if expiry.startswith("+") and expiry.endswith("h"):
                    when = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=int(expiry[1:-1]))).isoformat()
                balance_map.setdefault(b["type"], []).append(
                    {"Uuid": b["ID"], "ID": b["ID"], "Value": b.get("Value", 0), "ExpirationDate": when,
                     "Weight": b.get("Weight", 0), "DestinationIDs": {}, "Disabled": False})
            return {"ID": f"{acct['Tenant']}:{account}", "BalanceMap": balance_map, "Disabled": False}, None
        if method == "ApierV1.SetActions":
            self.actions[p.get("ActionsId")] = p.get("Actions")
            return "OK", None
        if method == "ApierV1.SetActionPlan":
            self.action_plans[p.get("Id")] = p
            return "OK", None
        if method == "ApierV1.RemoveActionPlan":
            if p.get("Id") not in self.action_plans:
                return None, "NOT_FOUND"
            del self.action_plans[p.get("Id")]
            return "OK", None
        return None, f"rpc: can't find method {method}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "FakeOcs":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def methods(self) -> list[str]:
        with self.lock:
            return [m for m, _ in self.calls]

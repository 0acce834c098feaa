"""An API Gateway HTTP API on 127.0.0.1: the routes of an ``AWS::Serverless::HttpApi`` read from ``template.yaml``,
each request turned into a payload-2.0 event and answered by the real handler, run in-process as its role.

It behaves like the service where cmk-guard depends on it: route matching on method and path template (anything else
is ``404 {"message":"Not Found"}``), lower-case header names, bodies base64-encoded unless the content type is text
or JSON (a form post arrives base64-encoded, as from API Gateway), a handler error becomes ``500``. Its access log,
like the template's, names the route template, never the path.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cmk_guard_local import lambda_runtime

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # template, e.g. /approvals/{id}
    function: str  # logical id of the function that serves it

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        pattern = "^" + re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


def routes(template: Mapping[str, Any], api_logical_id: str) -> list[Route]:
    """Every ``HttpApi`` event of every function that names ``api_logical_id`` as its ``ApiId``."""
    found = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            properties = event.get("Properties") or {}
            if event.get("Type") == "HttpApi" and properties.get("ApiId") == {"Ref": api_logical_id}:
                found.append(Route(str(properties["Method"]).upper(), str(properties["Path"]), logical_id))
    return found


class LocalHttpApi:
    """Serve ``routes`` on an ephemeral port of 127.0.0.1; ``function_names`` maps logical ids to function names."""

    def __init__(
        self, routes: list[Route], function_names: Mapping[str, str], account_id: str, api_id: str = "local"
    ) -> None:
        self.routes = routes
        self.function_names = dict(function_names)
        self.account_id = account_id
        self.api_id = api_id
        self.access_log: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("the API is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LocalHttpApi:
        api = self

        class Handler(_RequestHandler):
            owner = api

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-http-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- one request ------------------------------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes, source_ip: str
    ) -> tuple[int, dict[str, str], bytes, str]:
        """(status, headers, body, route key) for one request."""
        for route in self.routes:
            parameters = route.match(method, path)
            if parameters is None:
                continue
            function = lambda_runtime.lookup(self.function_names[route.function])
            if function is None:
                raise LookupError(f"{route.function} is not registered with the in-process Lambda runtime")
            event = self.event(route, path, query, headers, body, source_ip, parameters)
            result, errored, _lines = lambda_runtime.run(function, event)
            if errored or not isinstance(result, dict):
                return 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}', route.key
            payload = result.get("body") or ""
            data = base64.b64decode(payload) if result.get("isBase64Encoded") else str(payload).encode()
            return int(result.get("statusCode", 200)), dict(result.get("headers") or {}), data, route.key
        return 404, {"content-type": "application/json"}, b'{"message":"Not Found"}', "-"

    def event(
        self,
        route: Route,
        path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        source_ip: str,
        parameters: dict[str, str],
    ) -> dict[str, Any]:
        """The payload-2.0 event API Gateway sends for this request."""
        content_type = headers.get("content-type", "")
        text = content_type.startswith(TEXT_TYPES)
        now = datetime.now(UTC)
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": self.account_id,
                "apiId": self.api_id,
                "domainName": headers.get("host", ""),
                "domainPrefix": headers.get("host", "").split(".")[0],
                "http": {
                    "method": route.method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": source_ip,
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route.key,
                "stage": "$default",
                "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": int(now.timestamp() * 1000),
            },
            "pathParameters": parameters,
            "isBase64Encoded": False,
        }
        if headers.get("cookie"):
            event["cookies"] = [c.strip() for c in headers["cookie"].split(";")]
        if body:
            event["body"] = body.decode() if text else base64.b64encode(body).decode()
            event["isBase64Encoded"] = not text
        return event


class _RequestHandler(BaseHTTPRequestHandler):
    owner: LocalHttpApi
    protocol_version = "HTTP/1.1"
    server_version = "cmk-guard-local-api"

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        headers = {name.lower(): value for name, value in self.headers.items()}
        length = min(int(headers.get("content-length") or 0), MAX_BODY)
        body = self.rfile.read(length) if length else b""
        started = time.monotonic()
        status, response_headers, data, route_key = self.owner.handle(
            self.command, path, query, headers, body, self.client_address[0]
        )
        self.send_response(status)
        for name, value in response_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.owner.access_log.append(
            json.dumps({"route": route_key, "status": status, "ms": round((time.monotonic() - started) * 1000)})
        )

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """The standard access log prints the request line (the path holds the approval id): keep it silent."""

"""Lambda behind API Gateway: the approval page. GET shows, POST decides.

Nothing here logs the event, the path or the form: the path holds the approval id. Log lines name the route
template (``GET /approvals/{id}``), the status and what happened.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths

from cmk_guard.adapters.approvals import ApprovalStore
from cmk_guard.adapters.aws import client
from cmk_guard.adapters.callbacks import TaskCallbacks
from cmk_guard.core import approval_page as pages
from cmk_guard.core.approval import same_origin
from cmk_guard.handlers import _wiring as wiring
from cmk_guard.observability import logger, tracer
from cmk_guard.steps.approval_page import PagePorts, Requester, Result, decide, show

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

ROUTE = "/approvals/<approval_id>"
ROUTE_TEMPLATE = "/approvals/{id}"
MAX_FORM_BYTES = 8192
MAX_FORM_FIELDS = 10

# debug=False whatever the environment says: debug mode prints every event, and the path holds the approval id.
app = APIGatewayHttpResolver(debug=False)


def _ports() -> PagePorts:
    config = wiring.settings()
    return PagePorts(
        store=ApprovalStore(client("dynamodb", config.region), config.ledger_table_name),
        callbacks=TaskCallbacks(client("stepfunctions", config.region)),
    )


def _respond(method: str, result: Result) -> Response:
    logger.info(
        "approval page",
        extra={
            "route": f"{method} {ROUTE_TEMPLATE}",
            "status": result.page.status,
            "result": result.outcome,
            "executionArn": result.execution_arn,
            "errorType": result.error,
        },
    )
    return Response(status_code=result.page.status, body=result.page.html, headers=dict(pages.HEADERS))


def _form(body: str) -> dict[str, str] | None:
    """The urlencoded form's fields (first value of each), or ``None`` when it is too big to be the page's form."""
    if len(body) > MAX_FORM_BYTES:
        return None
    try:
        parsed = parse_qs(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        return None
    return {name: values[0] for name, values in parsed.items()}


@app.get(ROUTE)
def show_request(approval_id: str) -> Response:
    return _respond("GET", show(approval_id, _ports()))


@app.post(ROUTE)
def decide_request(approval_id: str) -> Response:
    event = app.current_event
    fields = _form(event.decoded_body or "")
    if fields is None:
        return _respond("POST", Result(pages.message(413, "Form too large", "Nothing was decided."), "form-too-large"))
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    http = event.request_context.http
    requester = Requester(source_ip=http.source_ip, user_agent=http.user_agent or "", same_origin=same_origin(headers))
    return _respond("POST", decide(approval_id, fields, requester, _ports()))


@app.exception_handler(Exception)
def unexpected(exc: Exception) -> Response:
    """Anything unforeseen: a plain 500 page; only the error's type is logged (its message could quote input)."""
    logger.error("approval page failed", extra={"errorType": type(exc).__name__})
    page = pages.message(500, "Something went wrong", "Nothing was decided. Try again later.")
    return Response(status_code=page.status, body=page.html, headers=dict(pages.HEADERS))


# log_event=False whatever the environment says.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)

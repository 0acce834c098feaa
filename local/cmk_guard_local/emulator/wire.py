"""HTTP responses the way each AWS protocol sends them, for botocore to parse (and retry) as usual."""

from __future__ import annotations

import json
import uuid
from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.model import OperationModel, ServiceModel

from .shapes import conformance_errors, to_wire


class ServiceError(Exception):
    """An AWS error the emulated service answers with (turned into a modeled botocore exception)."""

    def __init__(self, code: str, message: str, status: int | None = None, **fields: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.fields = code, message, status, fields


class EmulatorBug(AssertionError):
    """The emulator built a response that does not conform to the botocore output shape."""


class _Body(BytesIO):
    """The ``raw`` stream botocore reads a response body from."""

    def stream(self, **_: Any):  # noqa: ANN201 - botocore calls raw.stream()
        chunk = self.read()
        if chunk:
            yield chunk


def new_request_id() -> str:
    return str(uuid.uuid4())


def success(request: AWSPreparedRequest, operation: OperationModel, output: dict, request_id: str) -> AWSResponse:
    """A 2xx response carrying ``output`` (Python form), checked against the output shape first."""
    shape = operation.output_shape
    if shape is not None:
        problems = conformance_errors(shape, output)
        if problems:
            raise EmulatorBug(f"{operation.name} output does not match {shape.name}: {problems}")
    protocol = operation.service_model.resolved_protocol
    if protocol not in ("rest-json", "json"):
        raise NotImplementedError(f"emulated responses are JSON only, not {protocol}")
    ts_format = "iso8601" if protocol == "rest-json" else "unixTimestamp"
    body = json.dumps(to_wire(shape, output, ts_format) if shape is not None else {}).encode()
    content_type = "application/json" if protocol == "rest-json" else _json_content_type(operation.service_model)
    status = int(operation.http.get("responseCode", 200))
    headers = {"x-amzn-RequestId": request_id, "Content-Type": content_type, "Content-Length": str(len(body))}
    return AWSResponse(request.url, status, headers, _Body(body))


def query_success(request: AWSPreparedRequest, operation: OperationModel, result_xml: str,
                  request_id: str) -> AWSResponse:
    """A query-protocol (XML) 200 response whose ``<OpResult>`` holds ``result_xml``."""
    name = operation.name
    namespace = operation.service_model.metadata.get("xmlNamespace", "")
    body = (f'<{name}Response xmlns="{namespace}"><{name}Result>{result_xml}</{name}Result>'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{name}Response>").encode()
    headers = {"x-amzn-RequestId": request_id, "Content-Type": "text/xml", "Content-Length": str(len(body))}
    return AWSResponse(request.url, 200, headers, _Body(body))


def _json_content_type(service: ServiceModel) -> str:
    return f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"


def error_status(service: ServiceModel, code: str, default: int = 400) -> int:
    """The modeled HTTP status of error ``code`` (``default`` when the model does not say)."""
    shape = service.shape_for_error_code(code)
    if shape is not None:
        status = shape.metadata.get("error", {}).get("httpStatusCode")
        if status:
            return int(status)
    return default


def error(request: AWSPreparedRequest, service: ServiceModel, err: ServiceError, request_id: str) -> AWSResponse:
    """An error response in the service's protocol, so botocore raises the modeled exception class."""
    status = err.status or error_status(service, err.code)
    protocol = service.resolved_protocol
    headers: dict[str, str] = {"x-amzn-RequestId": request_id}
    if protocol == "rest-json":
        headers.update({"x-amzn-ErrorType": err.code, "Content-Type": "application/json"})
        body = json.dumps({"message": err.message, **err.fields}).encode()
    elif protocol in ("json", "smithy-rpc-v2-cbor"):
        headers["Content-Type"] = _json_content_type(service)
        body = json.dumps({"__type": err.code, "message": err.message, **err.fields}).encode()
    elif protocol == "query":
        kind = "Receiver" if status >= 500 else "Sender"
        headers["Content-Type"] = "text/xml"
        body = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(err.code)}</Code>"
                f"<Message>{escape(err.message)}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>").encode()
    elif protocol == "ec2":
        headers["Content-Type"] = "text/xml"
        body = (f"<Response><Errors><Error><Code>{escape(err.code)}</Code><Message>{escape(err.message)}"
                f"</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>").encode()
    else:  # rest-xml
        headers["Content-Type"] = "application/xml"
        body = (f"<Error><Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message>"
                f"<RequestId>{request_id}</RequestId></Error>").encode()
    headers["Content-Length"] = str(len(body))
    return AWSResponse(request.url, status, headers, _Body(body))

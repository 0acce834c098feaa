"""SNS notifications to the ops topic."""

from __future__ import annotations

from typing import Any

from cmk_guard.adapters.aws import translated

MAX_SUBJECT = 100


class Notifier:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> str | None:
        if not self._topic_arn:
            return None
        with translated("Publish"):
            return self._client.publish(
                TopicArn=self._topic_arn,
                Subject=subject[:MAX_SUBJECT],
                Message=message,
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items() if v},
            )["MessageId"]

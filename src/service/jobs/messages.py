"""What a job's SQS message carries: an S3 event notification, read the same by the worker and the
dead-letter drainer."""

from __future__ import annotations

import json
import urllib.parse


def uploaded_keys(body: str) -> list[str]:
    """The object keys an S3 notification announces (URL-decoded); none for S3's test event."""
    message = json.loads(body)
    if message.get("Event") == "s3:TestEvent":
        return []
    return [
        urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        for record in message.get("Records", [])
        if str(record.get("eventName", "")).startswith("ObjectCreated:")
    ]

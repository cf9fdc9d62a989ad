"""The jobs pipeline of `make serve`: queue, dead-letter queue and bucket notification in the embedded
emulator, and a poller that plays Lambda's SQS event source mapping for the real worker handler.

As on AWS: S3 sends `ObjectCreated` under the jobs prefix to the queue; the poller receives up to a
batch, invokes `service.worker.handler` with the same event shape, deletes the messages the handler
did not report as failures, and leaves the others to come back after the visibility timeout, until
the queue's redrive policy moves them to the dead-letter queue. A second poller plays the drainer's
mapping on the dead-letter queue (`service.dead_letters.handler`), which marks those jobs failed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from contract import object_keys
from contract.settings import ServiceSettings

QUEUE = "audio-inference-local-jobs"
DEAD_LETTER_QUEUE = "audio-inference-local-jobs-dlq"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@dataclass(frozen=True)
class JobQueues:
    url: str
    arn: str
    dead_letter_url: str
    dead_letter_arn: str = ""

    def dead_letters(self) -> JobQueues:
        """The dead-letter queue as a queue of its own (what the drainer's poller reads)."""
        return JobQueues(url=self.dead_letter_url, arn=self.dead_letter_arn, dead_letter_url="")


def create_pipeline(settings: ServiceSettings, *, visibility_timeout_s: int) -> JobQueues:
    """Queue with its redrive to the dead-letter queue, and the input bucket's notification to it."""
    sqs = boto3.client("sqs")
    dlq_url = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=QUEUE,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout_s),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": settings.jobs.max_receives}
            ),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket=settings.input_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {
                            "FilterRules": [
                                {"Name": "prefix", "Value": f"{settings.input_prefix}{object_keys.JOB_KEYS}"}
                            ]
                        }
                    },
                }
            ]
        },
    )
    return JobQueues(url=url, arn=arn, dead_letter_url=dlq_url, dead_letter_arn=dlq_arn)


JOB_THREAD = "sqs-event-source"
"""The poller's thread: the worker function runs on it."""


class QueuePoller:
    """Lambda's SQS event source mapping, in threads: receive, invoke, delete what succeeded.

    `pollers` plays the mapping's maximum concurrency (invocations it starts at once) and `reserved`
    the function's reserved concurrency (None: unbounded). As on Lambda, the pollers do not read it: an
    invocation beyond it is throttled, its messages are not deleted, and they come back after the
    visibility timeout with one more receive counted, toward the redrive policy's maxReceiveCount.
    The handler runs one invocation at a time in this process (Powertools keeps the event in module
    state); invocations waiting for it count as running, as they would on Lambda.
    """

    def __init__(
        self,
        queues: JobQueues,
        handler: Handler,
        context_factory: Callable[[str], Any],
        *,
        sqs: Any,
        batch_size: int = 1,
        pollers: int = 1,
        reserved: int | None = None,
        wait_s: int = 1,
    ) -> None:
        self._sqs = sqs
        self._queues = queues
        self._handler = handler
        self._context = context_factory
        self._batch_size = batch_size
        self._reserved = reserved
        self._wait_s = wait_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()
        self._running = 0
        self.invocations = 0
        """Invocations the handler ran."""
        self.throttled = 0
        """Invocations refused for lack of reserved concurrency (their messages were left to come back)."""
        self._threads = [
            threading.Thread(target=self._run, name=JOB_THREAD, daemon=True) for _ in range(max(1, pollers))
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, *, timeout_s: float = 30.0) -> None:
        """Stop polling; a batch still running after `timeout_s` is left to the (daemon) threads."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout_s)

    def _run(self) -> None:
        while not self._stop.is_set():
            received = self._sqs.receive_message(
                QueueUrl=self._queues.url,
                MaxNumberOfMessages=self._batch_size,
                WaitTimeSeconds=self._wait_s,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if received:
                self._invoke(received)

    def _admit(self) -> bool:
        """Whether one more invocation fits the function's reserved concurrency (counted if it does)."""
        with self._lock:
            if self._reserved is not None and self._running >= self._reserved:
                self.throttled += 1
                return False
            self._running += 1
            return True

    def _invoke(self, messages: list[dict[str, Any]]) -> None:
        if not self._admit():
            return  # throttled: the messages come back after the visibility timeout, a receive spent
        event = {"Records": [_sqs_record(m, self._queues.arn) for m in messages]}
        try:
            with self._one_at_a_time:
                self.invocations += 1
                response = self._handler(event, self._context(messages[0]["MessageId"]))
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception:  # the whole invocation failed: every message comes back after the timeout
            return
        finally:
            with self._lock:
                self._running -= 1
        for message in messages:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(QueueUrl=self._queues.url, ReceiptHandle=message["ReceiptHandle"])


def _sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS message as Lambda's event source mapping hands it to a function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }

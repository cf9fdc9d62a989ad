"""An encrypted SQS queue with a dead-letter queue, for work an S3 bucket announces.

Messages that fail `max_receives` times (throttled receives included) move to the dead-letter queue,
whose consumer (the stack's drainer) marks each job failed; they stay there for its retention. The
queue's policy lets one bucket, and only that bucket, send its event notifications (the policy S3
needs before it accepts a notification configuration: `policy`, to order that after), and both
queues refuse any request not made over TLS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from infra_constructs.metric import Metric

MAX_VISIBILITY_TIMEOUT_S = 12 * 3600
MAX_RETENTION_S = 14 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class JobQueueProps:
    name: str
    """The queue's name; the dead-letter queue is <name>-dlq."""
    visibility_timeout_s: int
    """How long a received message stays hidden; above the consumer's timeout (AWS advises 6x for Lambda)."""
    max_receives: int
    """Receives before a message moves to the dead-letter queue: the environment's `jobs.max_receives`,
    which holds the default."""
    retention_s: int
    """How long an unprocessed message is kept: longer than any job can wait (the environment's
    `jobs.queue_retention_s`, checked against that bound)."""
    notifying_bucket_arn: str
    """The bucket whose event notifications the queue takes (S3 may send them; nothing else may)."""
    dead_letter_retention_s: int = MAX_RETENTION_S
    """How long failed messages wait for inspection; left out: 14 days (the maximum). SQS counts a
    standard queue's message age from its first enqueue, the dead-letter queue's retention included."""
    dead_letter_visibility_timeout_s: int
    """How long a dead letter its consumer (the drainer) received stays hidden: at least that
    function's timeout (Lambda refuses an event source mapping below it)."""
    kms_key_arn: str | None = None
    """Encrypt messages with this customer-managed key; left out: SQS-managed encryption."""


class JobQueue(Construct):
    def __init__(self, scope: Construct, id_: str, props: JobQueueProps) -> None:
        super().__init__(scope, id_)
        self._kms_key_arn = props.kms_key_arn
        self.dead_letter_queue = self._encrypted_queue(
            "dead-letter-queue",
            f"{props.name}-dlq",
            message_retention_seconds=props.dead_letter_retention_s,
            visibility_timeout_seconds=min(props.dead_letter_visibility_timeout_s, MAX_VISIBILITY_TIMEOUT_S),
        )
        self.dead_letter_arn: str = self.dead_letter_queue.arn
        # The redrive policy is compact, as jsonencode writes it and SQS returns it: anything else re-plans.
        redrive = {"deadLetterTargetArn": self.dead_letter_queue.arn, "maxReceiveCount": props.max_receives}
        self.queue = self._encrypted_queue(
            "queue",
            props.name,
            visibility_timeout_seconds=min(props.visibility_timeout_s, MAX_VISIBILITY_TIMEOUT_S),
            message_retention_seconds=props.retention_s,
            receive_wait_time_seconds=20,  # long polling: fewer empty receives
            redrive_policy=json.dumps(redrive, separators=(",", ":")),
        )
        self.arn: str = self.queue.arn
        self.url: str = self.queue.url
        self.queue_name: str = self.queue.name
        self.dead_letter_queue_name: str = self.dead_letter_queue.name
        self.policy = self._policy("policy", self.queue, [self._bucket_may_send(props.notifying_bucket_arn)])
        self._policy("dead-letter-policy", self.dead_letter_queue, [])

    def _encrypted_queue(self, id_: str, name: str, **settings: Any) -> SqsQueue:
        """A queue encrypted at rest: the customer-managed key when given, else SQS-managed keys."""
        if self._kms_key_arn:
            return SqsQueue(self, id_, name=name, kms_master_key_id=self._kms_key_arn, **settings)
        return SqsQueue(self, id_, name=name, sqs_managed_sse_enabled=True, **settings)

    def metric(self, name: str, statistic: str = "Maximum", *, dead_letters: bool = False) -> Metric:
        """One of the metrics SQS publishes for the queue (or its dead-letter queue), by QueueName."""
        queue = self.dead_letter_queue_name if dead_letters else self.queue_name
        return Metric(namespace="AWS/SQS", name=name, dimensions=(("QueueName", queue),), statistic=statistic)

    def metric_visible_messages(self) -> Metric:
        """Jobs waiting for the worker."""
        return self.metric("ApproximateNumberOfMessagesVisible")

    def metric_in_flight_messages(self) -> Metric:
        """Jobs a worker has taken and not finished."""
        return self.metric("ApproximateNumberOfMessagesNotVisible")

    def metric_oldest_message_age(self) -> Metric:
        """Seconds the oldest waiting job has waited."""
        return self.metric("ApproximateAgeOfOldestMessage")

    def metric_dead_letters(self) -> Metric:
        """Messages that exhausted their receives, as the drainer takes them (it marks their jobs failed):
        receives from the dead-letter queue, summed. Its depth alone misses a message drained within the
        minute SQS samples it in."""
        return self.metric("NumberOfMessagesReceived", "Sum", dead_letters=True)

    def metric_undrained_dead_letters(self) -> Metric:
        """Seconds the oldest dead letter has waited for the drainer (it should take each in seconds)."""
        return self.metric("ApproximateAgeOfOldestMessage", dead_letters=True)

    def _bucket_may_send(self, bucket_arn: str) -> DataAwsIamPolicyDocumentStatement:
        """S3 sends this bucket's event notifications here, and no other bucket's (nor another account's
        bucket of the same name)."""
        return DataAwsIamPolicyDocumentStatement(
            sid="AllowTheBucketsEventNotifications",
            effect="Allow",
            actions=["sqs:SendMessage"],
            principals=[DataAwsIamPolicyDocumentStatementPrincipals(type="Service", identifiers=["s3.amazonaws.com"])],
            resources=[self.queue.arn],
            condition=[
                DataAwsIamPolicyDocumentStatementCondition(
                    test="ArnEquals", variable="aws:SourceArn", values=[bucket_arn]
                ),
                # A bucket ARN names no account: this one must be ours, not a same-named one elsewhere.
                DataAwsIamPolicyDocumentStatementCondition(
                    test="StringEquals",
                    variable="aws:SourceAccount",
                    values=[DataAwsCallerIdentity(self, "account").account_id],
                ),
            ],
        )

    def _policy(self, id_: str, queue: SqsQueue, statements: list[DataAwsIamPolicyDocumentStatement]) -> SqsQueuePolicy:
        """The queue's policy: the given statements, and a deny of every request not made over TLS."""
        tls_only = DataAwsIamPolicyDocumentStatement(
            sid="DenyRequestsWithoutTls",
            effect="Deny",
            actions=["sqs:*"],
            principals=[DataAwsIamPolicyDocumentStatementPrincipals(type="*", identifiers=["*"])],
            resources=[queue.arn],
            condition=[
                DataAwsIamPolicyDocumentStatementCondition(
                    test="Bool", variable="aws:SecureTransport", values=["false"]
                )
            ],
        )
        document = DataAwsIamPolicyDocument(self, f"{id_}-document", statement=[*statements, tls_only])
        return SqsQueuePolicy(self, id_, queue_url=queue.url, policy=document.json)

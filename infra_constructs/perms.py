"""IAM action lists, in one place, used by the grant methods.

Modelled on aws-cdk-lib's aws-s3/lib/perms.ts: a grant picks a list from
here; nothing else spells out actions.
"""

from __future__ import annotations

S3_OBJECT_READ = ("s3:GetObject", "s3:GetObjectVersion")
S3_OBJECT_WRITE = ("s3:PutObject", "s3:AbortMultipartUpload")
S3_OBJECT_DELETE = ("s3:DeleteObject",)
S3_BUCKET_LIST = ("s3:ListBucket",)
S3_OBJECT_PUT = ("s3:PutObject",)
"""Single-request writes and presigned POST uploads (the service never uploads in parts)."""
S3_OBJECT_GET = ("s3:GetObject",)
"""Reads and presigned GET links of the current version."""

LOGS_WRITE = ("logs:CreateLogStream", "logs:PutLogEvents")

# X-Ray segment upload: AWS offers no resource-level scoping for these actions.
XRAY_WRITE = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")

# The only actions an identity policy here may allow on Resource "*", each with its reason
# (tests/security/test_iam.py holds every generated statement to this list).
UNSCOPABLE_ACTIONS = {
    "xray:PutTraceSegments": "X-Ray has no resource types: the service authorization reference lists none",
    "xray:PutTelemetryRecords": "X-Ray has no resource types: the service authorization reference lists none",
}

ECR_PULL = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")

# What Lambda's SQS event source mapping needs of the function's role.
SQS_DEPTH = ("sqs:GetQueueAttributes",)
"""Read a queue's approximate depth (a queued job's place)."""
SQS_CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility")

# Using a KMS key for data: S3 objects under SSE-KMS, SQS messages, Lambda environments.
KMS_USE = ("kms:Decrypt", "kms:GenerateDataKey")
# What CloudWatch Logs needs of a key that encrypts log groups.
KMS_LOGS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)

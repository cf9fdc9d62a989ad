"""Attributes the emulator cannot round-trip, and why. Everything else must plan clean.

Each entry is (resource type, top-level attribute): a second `terraform plan`
may show a change there only because moto does not return what it was given.
Keep this list short and every reason concrete; a new entry needs the moto
behaviour behind it.
"""

EMULATOR_ROUND_TRIP_GAPS: dict[tuple[str, str], str] = {
    (
        "aws_api_gateway_rest_api",
        "binary_media_types",
    ): "moto stores binaryMediaTypes on create but GetRestApi returns none, so the provider reads []",
    (
        "aws_lambda_function",
        "logging_config",
    ): "moto's GetFunction does not return LoggingConfig (log format / log group), so it reads as absent",
    (
        "aws_lambda_function",
        "image_config",
    ): "moto returns an empty ImageConfig for image functions, read back as a block with empty lists",
    (
        "aws_sqs_queue",
        "redrive_policy",
    ): "moto returns RedrivePolicy re-serialized with a space after every ':' and ','; SQS returns the compact "
    "JSON the stack writes (jsonencode's form), so only the emulator re-plans it",
}

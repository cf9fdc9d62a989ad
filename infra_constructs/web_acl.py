"""An AWS WAF web ACL in front of a REST API stage, with its request log.

AWS's managed rule groups run first: the common rule set (OWASP-style generic attacks) and known bad
inputs (Log4j and other exploit payloads), blocking with WAF's own 403. Their rules that read the body
only count (`BODY_RULES`): on `/predict` the body is compressed audio, and its first 16 KB (what WAF
inspects behind API Gateway) match text patterns by chance. Each still labels what it matched, and our
rules block by label everywhere but `/predict`. `NoUserAgent_HEADER` counts too: server-side clients
with an API key often send no User-Agent; an unkeyed request without one is still blocked. Our rules
answer in the service's error shape (WAF custom responses):

1. a per-IP rate limit (429 `throttled`);
2. a body over 8 KB anywhere but `/predict` (the size label; 413 `payload_too_large`);
3. a body pattern of a known attack anywhere but `/predict` (the body labels; 403 `forbidden`);
4. no User-Agent and no API key (403 `forbidden`);
5. a `/predict` without Content-Length (411 `length_required`), so that the next rule cannot be dodged by a
   chunked body;
6. a `/predict` body whose Content-Length is over the service's synchronous limit (413 `payload_too_large`).
   WAF sees only the header; the service counts the bytes that arrive and refuses more itself.

Everything else is allowed: the API key, usage plan and the service's checks still apply behind it. The
body inspection limit is set, not left to a default (`BODY_INSPECTION_LIMIT`). WAF logs every request it
evaluates to a log group named aws-waf-logs-* (WAF accepts no other names), encrypted and retained like the
others, with the API key header redacted; sampled requests, which keep every header, are off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_log_resource_policy import CloudwatchLogResourcePolicy
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.wafv2_web_acl import (
    Wafv2WebAcl,
    Wafv2WebAclAssociationConfig,
    Wafv2WebAclAssociationConfigRequestBody,
    Wafv2WebAclAssociationConfigRequestBodyApiGateway,
    Wafv2WebAclCustomResponseBody,
    Wafv2WebAclDefaultAction,
    Wafv2WebAclDefaultActionAllow,
    Wafv2WebAclRule,
    Wafv2WebAclRuleAction,
    Wafv2WebAclRuleActionBlock,
    Wafv2WebAclRuleActionBlockCustomResponse,
    Wafv2WebAclRuleOverrideAction,
    Wafv2WebAclRuleOverrideActionNone,
    Wafv2WebAclRuleVisibilityConfig,
    Wafv2WebAclVisibilityConfig,
)
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import Wafv2WebAclAssociation
from cdktf_cdktf_provider_aws.wafv2_web_acl_logging_configuration import (
    Wafv2WebAclLoggingConfiguration,
    Wafv2WebAclLoggingConfigurationRedactedFields,
    Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader,
)
from constructs import Construct

COMMON_RULE_SET = "AWSManagedRulesCommonRuleSet"
KNOWN_BAD_INPUTS_RULE_SET = "AWSManagedRulesKnownBadInputsRuleSet"
MANAGED_RULE_GROUPS = (COMMON_RULE_SET, KNOWN_BAD_INPUTS_RULE_SET)
"""AWS's managed rule groups, evaluated first, in this order."""
BODY_RULES = {
    COMMON_RULE_SET: (
        "SizeRestrictions_BODY",
        "CrossSiteScripting_BODY",
        "GenericLFI_BODY",
        "GenericRFI_BODY",
        "EC2MetaDataSSRF_BODY",
    ),
    KNOWN_BAD_INPUTS_RULE_SET: ("JavaDeserializationRCE_BODY", "Log4JRCE_BODY"),
}
"""The managed rules that read the request body (AWS's documentation of both groups)."""
NO_USER_AGENT_RULE = "NoUserAgent_HEADER"
COUNTED_RULES = {
    COMMON_RULE_SET: (*BODY_RULES[COMMON_RULE_SET], NO_USER_AGENT_RULE),
    KNOWN_BAD_INPUTS_RULE_SET: BODY_RULES[KNOWN_BAD_INPUTS_RULE_SET],
}
"""Rules of a managed group that only count (and label); our own rules block by their labels instead."""
LABEL_NAMESPACES = {
    COMMON_RULE_SET: "awswaf:managed:aws:core-rule-set:",
    KNOWN_BAD_INPUTS_RULE_SET: "awswaf:managed:aws:known-bad-inputs:",
}


def rule_label(group: str, rule: str) -> str:
    """The label a managed rule adds: its group's namespace and its name with the inspected part in title
    case (SizeRestrictions_BODY labels ...:SizeRestrictions_Body)."""
    name, _, part = rule.rpartition("_")
    return f"{LABEL_NAMESPACES[group]}{name}_{part.title()}"


OVERSIZE_BODY_LABEL = rule_label(COMMON_RULE_SET, "SizeRestrictions_BODY")
"""What the common rule set's SizeRestrictions_BODY (a body over 8 KB) labels a request with."""
BODY_PATTERN_LABELS = tuple(
    rule_label(group, rule) for group, rules in BODY_RULES.items() for rule in rules if not rule.startswith("Size")
)
"""The labels of the counted rules that match attack patterns in a body."""
NO_USER_AGENT_LABEL = rule_label(COMMON_RULE_SET, NO_USER_AGENT_RULE)
BODY_INSPECTION_LIMIT = "KB_16"
"""How much of a body WAF inspects behind API Gateway: 16 KB, the price-included size, set explicitly."""
WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"
REDACTED_HEADERS = ("x-api-key",)
"""Headers WAF's log never holds (the API key would otherwise sit there for the retention period)."""


@dataclass(frozen=True, kw_only=True)
class WafError:
    """A WAF block's answer, in the service's error shape (WAF cannot know API Gateway's request id)."""

    status: int
    code: str
    message: str

    def body(self) -> str:
        return json.dumps({"error": {"code": self.code, "message": self.message, "request_id": ""}})


@dataclass(frozen=True, kw_only=True)
class WebAclProps:
    name: str
    """The web ACL's name; its log group is aws-waf-logs-<name>."""
    stage_arn: str
    """The REST API stage to protect (arn:aws:apigateway:<region>::/restapis/<id>/stages/<stage>)."""
    region: str
    rate_limit_per_5_min: int
    """Requests one IP may send in any 5 minutes before it is blocked."""
    predict_path: str = "/predict"
    """The route whose bodies are audio: exempt from the common rule set's 8 KB body limit, held to
    `predict_max_body_bytes` instead."""
    predict_max_body_bytes: int
    """The largest /predict body (its Content-Length) the service takes (audio.max_upload_bytes); larger
    ones are refused here."""
    log_retention_days: int
    kms_key_arn: str | None = None


class WebAcl(Construct):
    def __init__(self, scope: Construct, id_: str, props: WebAclProps) -> None:
        super().__init__(scope, id_)
        self.errors = {
            "throttled": WafError(
                status=429,
                code="throttled",
                message=f"more than {props.rate_limit_per_5_min} requests from this address in 5 minutes: "
                "retry with backoff",
            ),
            "oversize-body": WafError(
                status=413,
                code="payload_too_large",
                message=f"the request body is over 8 KB, the limit of every route but POST {props.predict_path}",
            ),
            "body-pattern": WafError(
                status=403,
                code="forbidden",
                message="the request body matches the pattern of a known attack",
            ),
            "no-user-agent": WafError(
                status=403,
                code="forbidden",
                message="send a User-Agent header, or an API key",
            ),
            "predict-length-required": WafError(
                status=411,
                code="length_required",
                message=f"POST {props.predict_path} needs a Content-Length header (no chunked bodies)",
            ),
            "predict-too-large": WafError(
                status=413,
                code="payload_too_large",
                message=f"a synchronous request may carry at most {props.predict_max_body_bytes:,} bytes: "
                "send longer recordings as a job (POST /jobs, then upload to the returned form)",
            ),
        }
        rules = [
            Wafv2WebAclRule(
                name=group,
                priority=priority,
                override_action=Wafv2WebAclRuleOverrideAction(none=Wafv2WebAclRuleOverrideActionNone()),
                statement={"managed_rule_group_statement": _managed_group(group)},
                visibility_config=_visibility(f"{props.name}-{group}"),
            )
            for priority, group in enumerate(MANAGED_RULE_GROUPS)
        ]
        on_predict = _uri_path_ends_with(props.predict_path)
        blocking: list[tuple[str, str, dict[str, Any]]] = [
            (
                "rate-limit-per-ip",
                "throttled",
                {"rate_based_statement": {"limit": props.rate_limit_per_5_min, "aggregate_key_type": "IP"}},
            ),
            (
                "oversize-body",
                "oversize-body",
                {
                    "and_statement": {
                        "statement": [_label(OVERSIZE_BODY_LABEL), {"not_statement": {"statement": [on_predict]}}]
                    }
                },
            ),
            (
                "body-pattern-off-predict",
                "body-pattern",
                {
                    "and_statement": {
                        "statement": [
                            {"or_statement": {"statement": [_label(label) for label in BODY_PATTERN_LABELS]}},
                            {"not_statement": {"statement": [on_predict]}},
                        ]
                    }
                },
            ),
            (
                "no-user-agent-unkeyed",
                "no-user-agent",
                {
                    "and_statement": {
                        "statement": [
                            _label(NO_USER_AGENT_LABEL),
                            {"not_statement": {"statement": [_header_present("x-api-key")]}},
                        ]
                    }
                },
            ),
            (
                "predict-length-required",
                "predict-length-required",
                {
                    "and_statement": {
                        "statement": [on_predict, {"not_statement": {"statement": [_header_present("content-length")]}}]
                    }
                },
            ),
            (
                "predict-body-over-limit",
                "predict-too-large",
                {"and_statement": {"statement": [on_predict, _content_length_above(props.predict_max_body_bytes)]}},
            ),
        ]
        for name, error_key, statement in blocking:
            rules.append(
                Wafv2WebAclRule(
                    name=name,
                    priority=len(rules),
                    action=Wafv2WebAclRuleAction(
                        block=Wafv2WebAclRuleActionBlock(
                            custom_response=Wafv2WebAclRuleActionBlockCustomResponse(
                                response_code=self.errors[error_key].status, custom_response_body_key=error_key
                            )
                        )
                    ),
                    statement=statement,
                    visibility_config=_visibility(f"{props.name}-{name}"),
                )
            )
        self.web_acl = Wafv2WebAcl(
            self,
            "web-acl",
            name=props.name,
            description="Managed rule groups, the service's body limits and a per-IP rate limit",
            scope="REGIONAL",
            default_action=Wafv2WebAclDefaultAction(allow=Wafv2WebAclDefaultActionAllow()),
            rule=rules,
            custom_response_body=[
                Wafv2WebAclCustomResponseBody(key=key, content=error.body(), content_type="APPLICATION_JSON")
                for key, error in self.errors.items()
            ],
            visibility_config=Wafv2WebAclVisibilityConfig(
                cloudwatch_metrics_enabled=True, metric_name=props.name, sampled_requests_enabled=False
            ),
            association_config=Wafv2WebAclAssociationConfig(
                request_body=[
                    Wafv2WebAclAssociationConfigRequestBody(
                        api_gateway=Wafv2WebAclAssociationConfigRequestBodyApiGateway(
                            default_size_inspection_limit=BODY_INSPECTION_LIMIT
                        )
                    )
                ]
            ),
        )
        Wafv2WebAclAssociation(self, "association", resource_arn=props.stage_arn, web_acl_arn=self.web_acl.arn)
        self.log_group = CloudwatchLogGroup(
            self,
            "log-group",
            name=f"{WAF_LOG_GROUP_PREFIX}{props.name}",
            retention_in_days=props.log_retention_days,
            kms_key_id=props.kms_key_arn,
        )
        delivery_policy = self._log_delivery_policy(props)
        Wafv2WebAclLoggingConfiguration(
            self,
            "logging",
            resource_arn=self.web_acl.arn,
            log_destination_configs=[self.log_group.arn],
            redacted_fields=[
                Wafv2WebAclLoggingConfigurationRedactedFields(
                    single_header=Wafv2WebAclLoggingConfigurationRedactedFieldsSingleHeader(name=header)
                )
                for header in REDACTED_HEADERS
            ],
            depends_on=[delivery_policy],
        )

    def _log_delivery_policy(self, props: WebAclProps) -> CloudwatchLogResourcePolicy:
        """WAF delivers logs through CloudWatch Logs' delivery service: let it write to this group only,
        for this account's web ACLs (what WAF would otherwise add itself, with a broader resource)."""
        account = DataAwsCallerIdentity(self, "account").account_id
        policy: dict[str, Any] = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "WafDeliversThisWebAclsLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "delivery.logs.amazonaws.com"},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{self.log_group.arn}:*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": account},
                        "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{props.region}:{account}:*"},
                    },
                }
            ],
        }
        return CloudwatchLogResourcePolicy(
            self,
            "log-delivery-policy",
            policy_name=f"{props.name}-waf-log-delivery",
            policy_document=json.dumps(policy),
        )


def _visibility(metric_name: str) -> Wafv2WebAclRuleVisibilityConfig:
    """Metrics on; sampled requests off: a sample keeps every header, the API key included (the log's
    redaction does not reach samples)."""
    return Wafv2WebAclRuleVisibilityConfig(
        cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=False
    )


def _managed_group(group: str) -> dict[str, Any]:
    """AWS's group, with the rules COUNTED_RULES names set to count."""
    statement: dict[str, Any] = {"vendor_name": "AWS", "name": group}
    if COUNTED_RULES.get(group):
        statement["rule_action_override"] = [
            {"name": rule, "action_to_use": {"count": {}}} for rule in COUNTED_RULES[group]
        ]
    return statement


def _label(key: str, scope: str = "LABEL") -> dict[str, Any]:
    return {"label_match_statement": {"scope": scope, "key": key}}


def _uri_path_ends_with(path: str) -> dict[str, Any]:
    """The route, whatever the stage or base path in front of it (API Gateway routes are case-sensitive)."""
    return {
        "byte_match_statement": {
            "positional_constraint": "ENDS_WITH",
            "search_string": path,
            "field_to_match": {"uri_path": {}},
            "text_transformation": [{"priority": 0, "type": "NONE"}],
        }
    }


def _header_present(name: str) -> dict[str, Any]:
    """The header is sent and not empty (WAF has no test for presence; a missing header matches nothing)."""
    return {
        "size_constraint_statement": {
            "comparison_operator": "GT",
            "size": 0,
            "field_to_match": {"single_header": {"name": name}},
            "text_transformation": [{"priority": 0, "type": "NONE"}],
        }
    }


def _content_length_above(limit: int) -> dict[str, Any]:
    """Content-Length over `limit`: WAF reads only the body's first KBs, but the header tells the size."""
    return {
        "regex_match_statement": {
            "regex_string": integer_above_pattern(limit),
            "field_to_match": {"single_header": {"name": "content-length"}},
            "text_transformation": [{"priority": 0, "type": "NONE"}],
        }
    }


def integer_above_pattern(limit: int) -> str:
    """A regular expression matching exactly the decimal integers greater than `limit` (leading zeros
    allowed), since WAF compares header values as text: more digits, or as many and larger at the first
    difference."""
    if limit < 0:
        raise ValueError(f"limit {limit} is invalid: allowed a non-negative integer")
    digits = str(limit)
    width = len(digits)
    alternatives = [f"[1-9]\\d{{{width},}}"]
    for position, digit in enumerate(digits):
        if digit == "9":
            continue
        rest = width - position - 1
        larger = str(int(digit) + 1) if digit == "8" else f"[{int(digit) + 1}-9]"
        alternatives.append(digits[:position] + larger + (f"\\d{{{rest}}}" if rest else ""))
    return f"^0*({'|'.join(alternatives)})$"

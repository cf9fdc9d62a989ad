"""An AWS WAF web ACL in front of a REST API stage, with its request log.

Rules, in order: AWS's managed common rule set (OWASP-style generic attacks), its known-bad-inputs
set (Log4j and other exploit payloads), then a per-IP rate limit. Everything else is allowed: the API
key, usage plan and request validation still apply behind it. WAF logs every request it evaluates to a
log group named aws-waf-logs-* (WAF accepts no other names), encrypted and retained like the others.
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
    Wafv2WebAclDefaultAction,
    Wafv2WebAclDefaultActionAllow,
    Wafv2WebAclRule,
    Wafv2WebAclRuleAction,
    Wafv2WebAclRuleActionBlock,
    Wafv2WebAclRuleOverrideAction,
    Wafv2WebAclRuleOverrideActionNone,
    Wafv2WebAclRuleVisibilityConfig,
    Wafv2WebAclVisibilityConfig,
)
from cdktf_cdktf_provider_aws.wafv2_web_acl_association import Wafv2WebAclAssociation
from cdktf_cdktf_provider_aws.wafv2_web_acl_logging_configuration import Wafv2WebAclLoggingConfiguration
from constructs import Construct

MANAGED_RULE_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")
"""AWS's managed rule groups, evaluated in this order before the rate limit."""
WAF_LOG_GROUP_PREFIX = "aws-waf-logs-"


@dataclass(frozen=True, kw_only=True)
class WebAclProps:
    name: str
    """The web ACL's name; its log group is aws-waf-logs-<name>."""
    stage_arn: str
    """The REST API stage to protect (arn:aws:apigateway:<region>::/restapis/<id>/stages/<stage>)."""
    region: str
    rate_limit_per_5_min: int
    """Requests one IP may send in any 5 minutes before it is blocked."""
    log_retention_days: int
    kms_key_arn: str | None = None


class WebAcl(Construct):
    def __init__(self, scope: Construct, id_: str, props: WebAclProps) -> None:
        super().__init__(scope, id_)
        rules = [
            Wafv2WebAclRule(
                name=group,
                priority=priority,
                override_action=Wafv2WebAclRuleOverrideAction(none=Wafv2WebAclRuleOverrideActionNone()),
                statement={"managed_rule_group_statement": {"vendor_name": "AWS", "name": group}},
                visibility_config=_visibility(f"{props.name}-{group}"),
            )
            for priority, group in enumerate(MANAGED_RULE_GROUPS)
        ]
        rules.append(
            Wafv2WebAclRule(
                name="rate-limit-per-ip",
                priority=len(rules),
                action=Wafv2WebAclRuleAction(block=Wafv2WebAclRuleActionBlock()),
                statement={"rate_based_statement": {"limit": props.rate_limit_per_5_min, "aggregate_key_type": "IP"}},
                visibility_config=_visibility(f"{props.name}-rate-limit-per-ip"),
            )
        )
        self.web_acl = Wafv2WebAcl(
            self,
            "web-acl",
            name=props.name,
            description="Managed common and known-bad-inputs rules, then a per-IP rate limit",
            scope="REGIONAL",
            default_action=Wafv2WebAclDefaultAction(allow=Wafv2WebAclDefaultActionAllow()),
            rule=rules,
            visibility_config=Wafv2WebAclVisibilityConfig(
                cloudwatch_metrics_enabled=True, metric_name=props.name, sampled_requests_enabled=True
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
    return Wafv2WebAclRuleVisibilityConfig(
        cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )

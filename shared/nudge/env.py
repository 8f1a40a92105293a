"""Function settings from the environment, read once on first use (never at import time).

A plain dataclass rather than a pydantic model: it is on every handler's import path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Env:
    """Environment every nudge function may read. Names match template.yaml."""

    table: str = "nudge"
    config_dir: str = "config"
    bus_name: str = "nudge"
    dlq_url: str = ""
    scheduler_group: str = "nudge"
    scheduler_role_arn: str = "arn:aws:iam::123456789012:role/nudge-scheduler"
    wake_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:nudge-wake"
    wake_dlq_arn: str = ""
    ses_configuration_set: str = ""
    ses_transactional_configuration_set: str = ""  # the transactional lane's own set
    unsubscribe_secret_arn: str = ""  # no default: signing fails loudly without it
    webhook_secret_arn: str = ""  # signs webhook messages; no default, as above
    campaign_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:nudge-campaign"
    score_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:nudge-score"


_NAMES = {
    "table": "NUDGE_TABLE",
    "config_dir": "NUDGE_CONFIG_DIR",
    "bus_name": "NUDGE_BUS_NAME",
    "dlq_url": "NUDGE_DLQ_URL",
    "scheduler_group": "NUDGE_SCHEDULER_GROUP",
    "scheduler_role_arn": "NUDGE_SCHEDULER_ROLE_ARN",
    "wake_function_arn": "NUDGE_WAKE_FUNCTION_ARN",
    "wake_dlq_arn": "NUDGE_WAKE_DLQ_ARN",
    "ses_configuration_set": "NUDGE_SES_CONFIGURATION_SET",
    "ses_transactional_configuration_set": "NUDGE_SES_TRANSACTIONAL_CONFIGURATION_SET",
    "unsubscribe_secret_arn": "NUDGE_UNSUBSCRIBE_SECRET_ARN",
    "webhook_secret_arn": "NUDGE_WEBHOOK_SECRET_ARN",
    "campaign_function_arn": "NUDGE_CAMPAIGN_FUNCTION_ARN",
    "score_function_arn": "NUDGE_SCORE_FUNCTION_ARN",
}


@lru_cache(maxsize=1)
def get_env() -> Env:
    """The function's settings; cached per container. Call ``reset_env()`` after changing them."""
    values = {key: os.environ[name] for key, name in _NAMES.items() if name in os.environ}
    return Env(**values)


def reset_env() -> None:
    """Forget cached settings (tests and the simulator change the environment)."""
    get_env.cache_clear()

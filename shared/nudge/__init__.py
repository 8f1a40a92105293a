"""nudge: behaviour-triggered marketing on AWS (EventBridge, DynamoDB, SES, SNS)."""

__version__ = "0.1.0"

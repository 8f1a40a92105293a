"""Data shapes shared by every part of nudge: events, decisions, outbox messages."""

"""The pure core: profile, events, decisions, rules, decide, react, send-time verdict,
templates, tokens, durations, cron and the clock. No AWS, no I/O, no wall clock."""

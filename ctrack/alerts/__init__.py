"""Alerts: email (SMTP) and a Slack-compatible chat webhook, sent through the durable outbox."""

"""The dashboard: logins, reports with charts, the call list and recordings."""

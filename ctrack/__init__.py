"""ctrack: self-hosted call tracking for on-prem Asterisk and FreeSWITCH PBXs."""

__version__ = "0.1.0"

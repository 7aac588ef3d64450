"""Data going out of ctrack: CSV exports, Google Ads conversions, GA4 events, webhooks."""


class ExportError(Exception):
    """An export that cannot be made as asked; str() is the one-line reason."""

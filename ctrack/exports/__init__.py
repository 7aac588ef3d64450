"""Data going out of ctrack: CSV exports, Google Ads conversions, GA4 events, webhooks."""

from ctrack.errors import CtrackError


class ExportError(CtrackError):
    """An export that cannot be made as asked; str() is the one-line reason."""

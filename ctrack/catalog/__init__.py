"""The catalog: sources, tracking numbers and pools, as the admin maps them."""

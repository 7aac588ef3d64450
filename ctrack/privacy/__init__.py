"""Privacy: consent by region, retention purges, per-caller export and erasure, recording access log."""

"""Spam: a block list the route applies, and heuristics that mark a call spam when it ends."""

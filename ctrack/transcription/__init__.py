"""Call transcripts, offline and speaker-separated, from the recordings the PBX makes."""

"""Ad spend per source per day: parsed, spread over days, stored."""

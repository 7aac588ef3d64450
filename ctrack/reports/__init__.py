"""Reports: calls, leads and cost by source, time patterns, pool usage."""

"""Detection: classification, duplicates, hotspots, trends."""

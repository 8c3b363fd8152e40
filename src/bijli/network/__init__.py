"""The electrical network as the utility accounts for it: outages grouped by transformer and
feeder, energy in against energy billed, losses."""

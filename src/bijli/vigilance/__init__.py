"""Revenue protection: meters' events paired into incidents, cases opened by rules as data and
worked to a close, anomalies and theft by hooking found in the energy."""

"""Wire protocol v1: topics, frames, signatures. Pure: no I/O."""

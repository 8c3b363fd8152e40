#!/bin/sh
# One meter's 24 hours at 100 million stored readings; one JSON line on stdout.
# The first run builds the store (about 8 minutes here); later runs can pass --reuse.
exec bijli bench readings "$@"

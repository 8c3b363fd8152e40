#!/bin/sh
# End-to-end ingest beside the broker's and COPY's limits; one JSON line on stdout.
# Any option of `bijli bench ingest` passes through, e.g. ./bench/ingest.sh --meters 50000 --workers 2
exec bijli bench ingest "$@"

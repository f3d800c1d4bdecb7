#!/bin/sh
# Run the OCI conformance suite against $RUNTIME (default: runc on PATH).
#   RUNTIME=/usr/sbin/runc conformance/run.sh [case-name filters...]
exec python3 "$(dirname "$(readlink -f "$0")")/runner.py" "$@"

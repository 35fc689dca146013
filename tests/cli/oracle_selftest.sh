#!/usr/bin/env bash
# The numpy oracle against hand-computed cases, before anything is compared with it.
source "$(dirname "$0")/common.sh"
"$PYTHON" "$ORACLE/test_oracle_selftest.py"

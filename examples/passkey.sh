#!/usr/bin/env bash
# The passkey check for every memory mode, with the heatmap.
#   bash examples/passkey.sh [LENGTHS] [OUT.png]
set -euo pipefail
"${FAMCLI:-famcli}" passkey --length "${1:-1k,4k}" --depth 0.1,0.5,0.9 --trials 2 \
  --memory fam,bswa,sink --plot "${2:-passkey.png}"

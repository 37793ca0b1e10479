#!/usr/bin/env bash
# The passkey check: famcli as users run it (recall on), then the memory modes on their own, with heatmaps.
#   bash examples/passkey.sh [LENGTHS] [OUT-PREFIX]
set -euo pipefail
famcli=${FAMCLI:-famcli}
"$famcli" passkey --length "${1:-4k,16k}" --depth 0.1,0.5,0.9 --trials 1 --plot "${2:-passkey}-recall.png"
"$famcli" passkey --length "${1:-4k,16k}" --depth 0.1,0.5,0.9 --trials 1 --memory fam,bswa,sink --no-recall \
  --plot "${2:-passkey}-memories.png"

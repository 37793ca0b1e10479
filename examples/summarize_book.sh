#!/usr/bin/env bash
# Summarize a whole book with its running notes (defaults to Alice in Wonderland from ../shared/corpus).
#   bash examples/summarize_book.sh [FILE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"${FAMCLI:-famcli}" summarize "${1:-$here/../../shared/corpus/alice.txt}" --notes --sections 12

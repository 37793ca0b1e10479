#!/usr/bin/env bash
# Ask a question about a document: a short report this script writes, or the file you pass.
#   bash examples/ask_report.sh [FILE "QUESTION"]
set -euo pipefail
famcli=${FAMCLI:-famcli}
if [ $# -ge 2 ]; then
  exec "$famcli" ask "$1" "$2"
fi
doc=$(mktemp --suffix=.txt)
trap 'rm -f "$doc" "$doc.state"' EXIT
cat > "$doc" <<'TXT'
Annual report of the Wexley Harbour Trust.
The trust repaired the north pier and bought two new pilot boats.
The auditors concluded that the accounts give a true and fair view of the trust's finances.
The chair, Mrs. Elena Marsh, thanked the volunteers of the lifeboat station.
TXT
"$famcli" ask "$doc" "What did the auditors conclude?" --save-state "$doc.state"
"$famcli" ask "$doc" "Who is the chair of the trust?" --load-state "$doc.state"   # no second reading

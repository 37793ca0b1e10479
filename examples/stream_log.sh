#!/usr/bin/env bash
# Stream a growing log through the memory (as `tail -f app.log | famcli stream` would), then ask about it.
#   bash examples/stream_log.sh [LOGFILE]
set -euo pipefail
if [ $# -ge 1 ]; then
  exec "${FAMCLI:-famcli}" stream --every 1024 --question "Which errors were reported?" < "$1"
fi
for i in $(seq 1 120); do
  echo "2026-11-22T10:$((i % 60)):00 INFO worker-$((i % 4)) processed batch $i in $((i * 7 % 90)) ms"
  if [ "$i" = 77 ]; then echo "2026-11-22T10:17:00 ERROR worker-1 disk /dev/sdb1 is full"; fi
done | "${FAMCLI:-famcli}" stream --every 1024 --question "Which error was reported?"

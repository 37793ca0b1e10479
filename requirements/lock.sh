#!/usr/bin/env bash
# Refresh requirements.lock from pyproject.toml's ranges and requirements/*.in (uv, pinned here), then build a
# fresh environment from it and run the suite: moving to new versions is one deliberate, tested step.
#   bash requirements/lock.sh          (or: make lock)
# TORCH_WHEELS names a folder holding the torch 2.13.0+cpu wheel (default /opt/wheels, where these machines keep it).
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.9
python3 -m venv .venv-lock
.venv-lock/bin/python -m pip install -q "uv==$UV_VERSION"
uv=.venv-lock/bin/uv
common=(--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 --no-header --quiet)
# Each part starts from the versions locked now (uv keeps a pin the ranges still allow), so adding a package
# moves nothing else; UPGRADE=1 moves every package to the newest version the ranges allow.
upgrade=(); [ "${UPGRADE:-0}" = 1 ] && upgrade=(--upgrade)
cp requirements.lock .lock-main.txt
cp requirements.lock .lock-model.txt
"$uv" pip compile pyproject.toml requirements/build.in --extra test --extra ray --find-links "${TORCH_WHEELS:-/opt/wheels}" \
  --no-emit-package torch "${common[@]}" "${upgrade[@]}" -o .lock-main.txt
"$uv" pip compile requirements/model.in --no-deps "${common[@]}" "${upgrade[@]}" -o .lock-model.txt
{
  echo "# famcli's locked environment, made by requirements/lock.sh (uv $UV_VERSION): do not edit by hand."
  echo "# Installed by 'make setup' with --require-hashes --no-deps after 'pip install torch==2.13.0'."
  cat .lock-main.txt .lock-model.txt
} > requirements.lock.tmp
rm -f .lock-main.txt .lock-model.txt
mv requirements.lock.tmp requirements.lock
rm -rf .venv-lock
make clean test

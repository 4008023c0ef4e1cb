#!/usr/bin/env bash
# Time to a first page: clone the repository, run `make run` with empty package caches (as on
# a fresh machine) and time until the portal answers; the server is then stopped.
# Run: bench/first_start.sh [REPOSITORY] [COMMIT]   (default: this checkout, HEAD)
# Prints the install time (`make install-run`), the start time and the total, in seconds.
set -euo pipefail
source_repo=${1:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}
commit=${2:-HEAD}
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
trap 'kill -- -$server 2>/dev/null || true; rm -rf "$work"' EXIT

git clone -q "$source_repo" "$work/stagemail"
cd "$work/stagemail"
git checkout -q "$commit"
export PIP_CACHE_DIR="$work/pip-cache" UV_CACHE_DIR="$work/uv-cache"
start=$(date +%s.%N)
if grep -q '^install-run:' Makefile; then make install-run >install.log 2>&1; fi
installed=$(date +%s.%N)
setsid make run HOST="127.0.0.1:$port" >run.log 2>&1 &
server=$!
until curl -s -o /dev/null -m 2 "http://127.0.0.1:$port/accounts/login/"; do
  if ! kill -0 "$server" 2>/dev/null; then cat run.log; exit 1; fi
  sleep 0.2
done
answered=$(date +%s.%N)
printf 'install %.1f s, start %.1f s, total %.1f s (load average %s)\n' \
  "$(echo "$installed - $start" | bc)" "$(echo "$answered - $installed" | bc)" \
  "$(echo "$answered - $start" | bc)" "$(cut -d' ' -f1 /proc/loadavg)"

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
server=""
trap '[ -n "$server" ] && kill -- -"$server" 2>/dev/null; rm -rf "$work"' EXIT

git clone -q "$source_repo" "$work/stagemail"
cd "$work/stagemail"
git checkout -q "$commit"
export PIP_CACHE_DIR="$work/pip-cache"
now() { python3 -c 'import time; print(time.time())'; }
start=$(now)
if grep -q '^install-run:' Makefile; then make install-run >install.log 2>&1; fi
installed=$(now)
setsid make run HOST="127.0.0.1:$port" >run.log 2>&1 &
server=$!
until curl -s -o /dev/null -m 2 "http://127.0.0.1:$port/accounts/login/"; do
  if ! kill -0 "$server" 2>/dev/null; then cat run.log; exit 1; fi
  sleep 0.2
done
answered=$(now)
python3 - "$start" "$installed" "$answered" <<'PY'
import sys
start, installed, answered = map(float, sys.argv[1:])
load = open("/proc/loadavg").read().split()[0]
print(f"install {installed - start:.1f} s, start {answered - installed:.1f} s, "
      f"total {answered - start:.1f} s (load average {load})")
PY

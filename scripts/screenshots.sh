#!/usr/bin/env bash
# Screenshots of notebooks as JupyterLab shows them, in headless Chromium (Debian: apt-get install chromium-headless-shell).
# usage: scripts/screenshots.sh OUTDIR NOTEBOOK [NOTEBOOK ...]   (paths relative to the repository; 1400 px wide)
# Starts JupyterLab from .venv on a free local port without a token, takes one PNG per notebook, stops JupyterLab.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$1"; shift; mkdir -p "$out"
browser=$(command -v chromium-headless-shell || command -v chromium || true)
[ -n "$browser" ] || { echo "screenshots: no headless Chromium (apt-get install chromium-headless-shell)" >&2; exit 2; }
port=$(.venv/bin/python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
.venv/bin/jupyter lab --no-browser --allow-root --port "$port" --ServerApp.ip=127.0.0.1 --IdentityProvider.token='' \
  --ServerApp.root_dir="$PWD" > "$out/jupyterlab.log" 2>&1 &
lab=$!
trap 'kill $lab 2>/dev/null; wait $lab 2>/dev/null || true' EXIT
for _ in $(seq 60); do curl -sf "http://127.0.0.1:$port/api/status" >/dev/null && break; sleep 1; done
for nb in "$@"; do
  png="$out/$(echo "$nb" | tr '/' '_' | sed 's/\.ipynb$//').png"
  "$browser" --no-sandbox --disable-gpu --hide-scrollbars --window-size="1400,${HEIGHT:-2600}" --virtual-time-budget=40000 \
    --screenshot="$png" "http://127.0.0.1:$port/lab/tree/$nb" >/dev/null 2>&1
  echo "$png"
done

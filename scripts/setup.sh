#!/usr/bin/env bash
# Set up .venv/ in this checkout: bn_robust (editable) with its dev and eval extras, and JupyterLab's pre-save hook.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/pip install -q -e '.[dev,eval]'
# A JupyterLab started from .venv cleans each notebook as nbdev_clean does before saving it (settings.ini: jupyter_hooks),
# so opening and saving a committed notebook leaves git status clean. (pip's editable install does not place data files.)
mkdir -p .venv/etc/jupyter/jupyter_server_config.d
cp jupyter-config/bn_robust.json .venv/etc/jupyter/jupyter_server_config.d/

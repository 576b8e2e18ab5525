import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def cli(*args, check=True, timeout=600, env=None):
    "Run the `bn-robust` command; returns the CompletedProcess"
    r = subprocess.run([str(BIN/'bn-robust'), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, 'MPLBACKEND': 'Agg', **(env or {})})
    if check and r.returncode != 0: raise AssertionError(f"bn-robust {' '.join(map(str, args))} failed:\n{r.stderr[-3000:]}")
    return r

def records(out):
    return [json.loads(p.read_text()) for p in sorted(Path(out, 'runs').glob('*/record.json'))]

@pytest.fixture(scope='session')
def table1_smoke(tmp_path_factory):
    "One smoke-profile Table 1 through the CLI, shared by the tests that read it"
    out = tmp_path_factory.mktemp('table1')
    r = cli('run', 'table1', '--profile', 'smoke', '--seeds', '0', '--out', out)
    return out, r

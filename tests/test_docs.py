"""README and docs/: the front page stays short, and the quick commands they print run as typed from the repository root."""
import os, re, shlex, subprocess
from pathlib import Path
import pytest
from conftest import ROOT

PAGES = [ROOT/'README.md', *sorted((ROOT/'docs').glob('*.md'))]
QUICK = re.compile(r"^\.venv/bin/bn-robust (--help|\w+ --help|list\b|models\b|status --out outputs\b|run .*--dry-run)")

def commands(page) -> list:
    "Lines of the page's ```bash blocks (comments dropped)"
    blocks = re.findall(r"```bash\n(.*?)```", page.read_text(), flags=re.S)
    return [l.split(' #')[0].strip() for b in blocks for l in b.splitlines() if l.strip() and not l.strip().startswith('#')]

QUICK_CMDS = sorted({(p.name, c) for p in PAGES for c in commands(p) if QUICK.match(c)})

def test_readme_is_a_front_page():
    text = (ROOT/'README.md').read_text()
    assert len(text.splitlines()) <= 130
    first = commands(ROOT/'README.md')[:2]
    assert first[0].startswith('bash scripts/setup.sh &&') and first[1] == 'bash tests/run.sh'
    assert not re.search(r"\bissue \d", text, flags=re.I)
    for link in re.findall(r"\]\((docs/[^)#]+)", text): assert (ROOT/link).exists(), link

def test_every_command_is_typed_with_the_venv():
    "After the setup command nothing is on PATH: every bn-robust / papermill / jupyter / pytest command names .venv/bin/"
    for p in PAGES:
        for c in commands(p):
            for tool in ('bn-robust', 'papermill', 'jupyter', 'pytest', 'nbdev_test', 'nbdev_export'):
                if re.match(rf"^{tool}\b", c): raise AssertionError(f"{p.name}: `{c}` needs .venv/bin/")

def test_there_are_quick_commands():
    kinds = {c.split()[1] for _, c in QUICK_CMDS}
    assert {'--help', 'list', 'models', 'run'} <= kinds, QUICK_CMDS

@pytest.mark.parametrize('page,cmd', QUICK_CMDS, ids=[f"{p}: {c}" for p, c in QUICK_CMDS])
def test_quick_command_runs_as_typed(page, cmd):
    if not (ROOT/'.venv'/'bin'/'bn-robust').exists(): pytest.skip('no .venv/bin/bn-robust in this checkout')
    r = subprocess.run(['bash', '-c', cmd], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, 'CUDA_VISIBLE_DEVICES': '', 'MPLBACKEND': 'Agg'})
    assert r.returncode == 0, f"{page}: `{cmd}` exited {r.returncode}: {r.stderr[-1500:]}"
    assert r.stdout.strip()

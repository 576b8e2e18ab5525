"""Every committed notebook is as JupyterLab saves it: opened, given the kernel metadata JupyterLab sets, and saved
through the pre-save hook this package installs and nbformat's writer (Jupyter's own contents manager), it is
byte for byte the committed file. So a reader who opens a notebook gets no git diff from autosave."""
import json, shutil, subprocess, sys
from pathlib import Path

import pytest
from jupyter_core.paths import jupyter_config_path
from jupyter_server.services.contents.filemanager import FileContentsManager

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = subprocess.run(['git', 'ls-files', '*.ipynb'], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
HOOK_CONFIG = ROOT/'jupyter-config'/'bn_robust.json'
# what JupyterLab 4 writes into a notebook's metadata once its kernel (ipykernel) has started
JUPYTERLAB_METADATA = {
    'kernelspec': {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'},
    'language_info': {'codemirror_mode': {'name': 'ipython', 'version': 3}, 'file_extension': '.py', 'mimetype': 'text/x-python',
                      'name': 'python', 'nbconvert_exporter': 'python', 'pygments_lexer': 'ipython3',
                      'version': '.'.join(map(str, sys.version_info[:3]))}}

def test_every_notebook_is_checked():
    assert len(NOTEBOOKS) > 30 and 'outputs/reports/paper.ipynb' in NOTEBOOKS and 'nbs/03_freeze.ipynb' in NOTEBOOKS

def test_hook_installed_with_the_package():
    "pip install puts the hook's config where a JupyterLab started from this environment reads it"
    installed = Path(sys.prefix, 'etc', 'jupyter', 'jupyter_server_config.d', HOOK_CONFIG.name)
    assert installed.read_text() == HOOK_CONFIG.read_text()
    assert str(installed.parents[1]) in jupyter_config_path()

@pytest.mark.parametrize('path', NOTEBOOKS)
def test_open_and_save_changes_nothing(path, monkeypatch):
    monkeypatch.chdir(ROOT)  # where JupyterLab is started: the hook reads paths from there
    cm = FileContentsManager(root_dir=str(ROOT), allow_hidden=True,
                             pre_save_hook=json.loads(HOOK_CONFIG.read_text())['ContentsManager']['pre_save_hook'])
    model = cm.get(path)
    cm.log.error = lambda *a, **k: pytest.fail(f"the pre-save hook failed on {path}: {a}")
    model['content']['metadata'].update(json.loads(json.dumps(JUPYTERLAB_METADATA)))
    saved = str(Path(path).with_name(f'.saved-{Path(path).name}'))  # beside it: the hook reads settings.ini above it
    try:
        shutil.copy(ROOT/path, ROOT/saved)  # saved over itself, as a save is (the hook trusts the file it replaces)
        cm.save(model, saved)
        assert (ROOT/saved).read_bytes() == (ROOT/path).read_bytes(), f"{path} changes when JupyterLab saves it"
    finally: (ROOT/saved).unlink(missing_ok=True)

"""The report as a reader sees it: the notebook's outline is REPORT_OUTLINE (a markdown cell per heading, a code cell
per section), no cell hides outputs behind "Show more outputs", no number is cut, no path of the building machine is
in anything committed under outputs/, and the committed report is what its records rebuild."""
import json, re, subprocess
from pathlib import Path

import pytest

from bn_robust.report import REPORT_OUTLINE, build_report

ROOT = Path(__file__).resolve().parents[1]
ABSOLUTE = re.compile(r"(?<![\w.])(/work/|/home/|/root/|/tmp/|/Users/|[A-Z]:\\\\)")
JUPYTERLAB_MAX_OUTPUTS = 50   # JupyterLab folds the rest behind "Show more outputs"; a section stays far below it
MAX_OUTPUTS = 10

def committed(*globs): return subprocess.run(['git', 'ls-files', *globs], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()

def cells(path): return json.loads((ROOT/path).read_text())['cells']

def test_template_is_the_outline():
    "nbs/reports/paper.ipynb: a markdown cell per heading of REPORT_OUTLINE, in order, each section's code cell right under it"
    cs = cells('nbs/reports/paper.ipynb')
    heads = [(i, src) for i, c in enumerate(cs)
             if c['cell_type'] == 'markdown' and (src := ''.join(c['source'])).startswith(('## ', '### '))]
    assert [h for _, h in heads] == ['#'*level + ' ' + title for level, title, _ in REPORT_OUTLINE]
    for (i, _), (_, _, key) in zip(heads, REPORT_OUTLINE):
        if key: assert ''.join(cs[i + 1]['source']) == f"files += report_section({key!r}, data, notebook_show)"

def _outputs(path):
    return [(i, o) for i, c in enumerate(cells(path)) if c['cell_type'] == 'code' for o in c.get('outputs', [])]

def test_committed_report_reads_as_sections():
    path = 'outputs/reports/paper.ipynb'
    per_cell = {}
    for i, _ in _outputs(path): per_cell[i] = per_cell.get(i, 0) + 1
    assert max(per_cell.values()) <= MAX_OUTPUTS < JUPYTERLAB_MAX_OUTPUTS, per_cell
    for i, o in _outputs(path):
        data = o.get('data', {})
        md = ''.join(data.get('text/markdown', ''))
        assert not re.match(r"\s*#", md), f"cell {i}: a heading in an output ({md[:60]!r}); headings are markdown cells"
        html = ''.join(data.get('text/html', ''))
        assert '...' not in html and '…' not in html, f"cell {i}: a cut table cell"
        assert not re.search(r"<th>_\w+</th>", html), f"cell {i}: internal columns (named _...) shown"
    shown = ''.join(''.join(o.get('data', {}).get('text/markdown', '')) for _, o in _outputs(path))
    assert 'runs/&lt;run id&gt;/evals/' in shown   # `<run id>` is text, not an HTML tag
    images = sum('image/png' in o.get('data', {}) for _, o in _outputs(path))
    assert images >= 15

def test_no_path_of_the_building_machine():
    for p in committed('outputs/*.ipynb', 'outputs/*.md', 'outputs/*.csv'):
        m = ABSOLUTE.search((ROOT/p).read_text())
        assert m is None, f"{p}: absolute path {(ROOT/p).read_text()[m.start():m.start() + 60]!r}"

def test_committed_report_is_what_its_records_rebuild(tmp_path):
    "Every table of outputs/reports, rebuilt from the committed records and evals, is byte for byte the committed one"
    if subprocess.run(['git', 'status', '--porcelain', 'outputs/runs'], cwd=ROOT, capture_output=True, text=True).stdout.strip():
        pytest.skip('records under outputs/runs differ from the committed ones (a grid still running here)')
    build_report(ROOT/'outputs', show=lambda x: None, rep=tmp_path)
    tables = committed('outputs/reports/*.md', 'outputs/reports/*.csv')
    assert {Path(p).name for p in tables} == {p.name for p in tmp_path.glob('*') if p.suffix in ('.md', '.csv')}
    for p in tables: assert (tmp_path/Path(p).name).read_text() == (ROOT/p).read_text(), p

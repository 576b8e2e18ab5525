"The experiment notebooks cannot drift from the registry: the same parameters, the same default outputs folder, a notebook for every experiment, hypothesis filters that name real sources."
import ast, json, re
from pathlib import Path
from bn_robust.experiments import EXPERIMENTS
from bn_robust.batch import NB_PARAMS
from bn_robust.claims import HYPOTHESES

NBS = Path(__file__).resolve().parents[1]/'nbs'

def _cells(path): return json.loads(path.read_text())['cells']

def _parameters(path) -> dict:
    "The names and default values of a notebook's papermill `parameters` cell"
    cell, = [c for c in _cells(path) if 'parameters' in c['metadata'].get('tags', [])]
    return {t.id: ast.literal_eval(n.value) for n in ast.parse(''.join(cell['source'])).body for t in n.targets}

def test_every_experiment_has_its_notebook_with_the_same_parameters():
    names = None
    for e in EXPERIMENTS.values():
        path = NBS/e.notebook
        p = _parameters(path)
        names = names or list(p)
        assert list(p) == names, (e.name, list(p), names)
        assert set(p) <= set(NB_PARAMS), (e.name, set(p) - set(NB_PARAMS))
        assert p['out_dir'] == 'outputs/yours' and p['evals'] == [], (e.name, p['out_dir'], p['evals'])
        src = ''.join(''.join(c['source']) for c in _cells(path))
        served = re.search(r"serves=([^)]*)\)", src).group(1)
        assert e.name in served, (e.name, served)

def test_hypothesis_filters_name_real_sources():
    sources = {h.source for h in HYPOTHESES}
    for path in sorted((NBS/'experiments').glob('*.ipynb')):
        for s in re.findall(r"h\.source == '([^']+)'", ''.join(''.join(c['source']) for c in _cells(path))):
            assert s in sources, (path.name, s, sources)

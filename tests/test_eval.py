"""`bn-robust eval` then `bn-robust report` on smoke Table 1: eval files per run, AutoAttack columns, audit verdicts, both claims tables."""
import json
from pathlib import Path

import pytest

from conftest import cli
import bn_robust.eval as ev
from bn_robust.cli import main

@pytest.fixture
def light_aa(monkeypatch):
    "AutoAttack's own attacks with fewer iterations, targets and queries, so that six smoke runs take seconds (tests only)"
    standard = ev._autoattack
    def light(model, spec, device):
        aa = standard(model, spec, device)
        aa.apgd.n_iter = aa.apgd_targeted.n_iter = aa.fab.n_iter = 5
        aa.apgd_targeted.n_target_classes = aa.fab.n_target_classes = 2; aa.square.n_queries = 100
        return aa
    monkeypatch.setattr(ev, '_autoattack', light)

@pytest.mark.long
def test_eval_then_report(tmp_path, light_aa):
    out = tmp_path/'D'
    argv = ['eval', 'table1', '--profile', 'smoke', '--seeds', '0', '--attack', 'autoattack', '--attack', 'pgd-20', '--n', '20',
            '--device', 'cpu', '--out', str(out)]
    main(argv)
    recs = sorted(out.glob('runs/*/record.json'))
    assert len(recs) == 6
    for r in recs:
        d = r.parent/'evals'
        e = json.loads(next(d.glob('autoattack-n20-*.json')).read_text())
        assert e['library'].startswith('pyautoattack ') and e['settings']['version'] == 'standard'
        assert (e['n'], len(e['flags']), e['images']) == (20, 20, 'first 20 of the 100 test images')
        assert e['robust_acc'] == e['flags'].count('1')/20 and list(e['components']) == ['apgd-ce', 'apgd-t', 'fab-t', 'square']
        assert e['weights']['source'] in ('trained', 'saved') and e['device'] == 'cpu' and e['git_commit']
        assert len(list(d.glob('pgd-20-n20-*.json'))) == 1
        a = json.loads((d/'audit.json').read_text())
        assert set(a['checks']) == set('abcde') and a['verdict'] in ('ok', 'suspect', 'incomplete') and a['n'] == 20
        assert a['checks']['b']['verdict'] != 'not run' and a['checks']['d']['verdict'] == 'not run'
    files = {p: p.stat().st_mtime_ns for p in [*out.glob('runs/*/evals/*-n20-*.json'), *out.glob('runs/*/evals/audit.json')]}
    records = {p: p.read_bytes() for p in recs}
    main(argv)  # everything cached: no eval or audit file written again, no record touched
    assert {p: p.stat().st_mtime_ns for p in files} == files
    assert {p: p.read_bytes() for p in recs} == records
    cli('report', '--out', out)
    rep = out/'reports'
    t1 = (rep/'table1-smoke.md').read_text()
    assert '| adv_acc AutoAttack ours | adv_acc PGD-20 same images ours | audit |' in t1 and '(n=1; first 20)' in t1
    assert 'expected at this profile' in (rep/'claims-smoke.md').read_text()
    both = (rep/'claims-smoke-pgd-vs-autoattack.md').read_text()
    assert 'verdict PGD' in both and 'verdict AutoAttack' in both
    assert (rep/'table1-smoke-autoattack.png').stat().st_size > 0
    ev = (rep/'evals-smoke.csv').read_text().splitlines()  # every audited run once, with its AutoAttack accuracy as in its eval file
    assert len(ev) == 1 + 6 and (rep/'eval-times-smoke.md').exists()
    import pandas as pd
    t = pd.read_csv(rep/'evals-smoke.csv', index_col=0)
    for rid, acc in t.AutoAttack.items():
        assert acc == json.loads(next((out/'runs'/rid/'evals').glob('autoattack-n20-*.json')).read_text())['robust_acc']

@pytest.mark.parametrize('bad, msg', [(['--attack', 'pgd20'], "unknown attack 'pgd20'"), (['--attack', 'autoattack', '--n', '0'], '--n must be a positive')])
def test_eval_bad_input(tmp_path, bad, msg):
    r = cli('eval', 'table1', '--profile', 'smoke', *bad, '--out', tmp_path/'o', check=False)
    assert r.returncode == 2 and msg in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path/'o').exists()

def test_recorded_only_trains_nothing(tmp_path):
    "--recorded-only evaluates the runs that have records and never starts one (a grid still training elsewhere)"
    r = cli('eval', 'table6', '--profile', 'smoke', '--seeds', '0', '--attack', 'pgd-20', '--out', tmp_path, '--recorded-only')
    assert '0 runs evaluated' in r.stdout, r.stdout
    assert not list(tmp_path.glob('runs/*/record.json')) and not list(tmp_path.glob('runs/*/evals/*'))

"`bn-robust run --budget`: a batch stops cleanly inside its time budget (complete records, resumable checkpoints), and the next call finishes it with the records an unbudgeted batch makes."
import json, re, shutil
import pytest
from pathlib import Path
from conftest import cli, records
from bn_robust.runs import RECORD_KEYS

ENV = {'OMP_NUM_THREADS': '1', 'BN_ROBUST_THREADS': '1'}  # fixed threads: resumed runs equal uninterrupted ones bit for bit
RUN = ('run', 'table1', '--profile', 'smoke', '--seeds', '0', '--device', 'cpu')

def _science(r):
    "What a run computed (metrics, training history without timings, BN summary), not when or how fast"
    return {'metrics': r['metrics'], 'bn': r['bn'], 'history': [{k: v for k, v in h.items() if k != 'seconds'} for h in r['history']]}

@pytest.mark.long
def test_budget_stops_inside_and_next_call_finishes(tmp_path):
    ref, out = tmp_path/'ref', tmp_path/'budget'
    cli(*RUN, '--out', ref, '--no-notebook', env=ENV, timeout=900)
    want = {r['id']: r for r in records(ref)}
    assert len(want) == 6
    # this device's speed is known from a finished run (All_N, its weights included), as after an earlier call
    base = next(r for r in want.values() if r['label'] == 'All_N')
    shutil.copytree(ref/'runs'/base['id'], out/'runs'/base['id'])
    rest = sum(r['wall_seconds'] for r in want.values() if r['id'] != base['id'])
    # well short of the five runs left on any machine: the gate starts a run only if 1.5x its expected time fits, so at
    # most 0.4/1.5 of the work left can start (a floor in seconds once exceeded all the work left on a fast machine)
    budget_s = 0.4*rest
    r = cli(*RUN, '--out', out, '--budget', f'{budget_s/60:.4f}', env=ENV, timeout=900)
    used = float(re.search(r'budget: used ([\d.]+) s of ([\d.]+) s', r.stdout).group(1))
    # work starts only if 1.5x its expected time fits; slack for a last epoch slower than that on a machine shared by many processes
    assert used <= budget_s + max(5., 0.5*budget_s), (used, budget_s)
    assert 'notebook not executed: runs are missing' in r.stdout
    first = records(out)
    assert 1 <= len(first) < 6, r.stdout
    assert all(set(RECORD_KEYS) <= set(rec) for rec in first)
    assert not list(out.glob('runs/*/.*.tmp')) and not list(out.glob('runs/*/lock'))
    assert re.search(r'(stopped|deferred) ', r.stdout)
    r2 = cli(*RUN, '--out', out, '--budget', '30', '--no-notebook', env=ENV, timeout=900)
    assert 'table1 [smoke]: 6 of 6 runs done' in r2.stdout, r2.stdout
    got = {r['id']: r for r in records(out)}
    assert set(got) == set(want)
    for i in want: assert _science(got[i]) == _science(want[i]), got[i]['label']

def test_bad_budget_is_one_line(tmp_path):
    for bad in ('0', '-1', 'nan', 'soon'):
        r = cli(*RUN, '--out', tmp_path, '--budget', bad, check=False)
        assert r.returncode == 2 and r.stderr.strip().count('\n') == 0, r.stderr
    assert not (tmp_path/'runs').exists() or not list((tmp_path/'runs').iterdir())

"`bn-robust run --executor local|submitit-local` and `bn-robust status`, on the smoke profile (about 2 minutes on 2 CPU cores)."
import json
from pathlib import Path
import pytest, torch
from conftest import cli, records, ROOT
from bn_robust.experiments import EXPERIMENTS

pytest.importorskip('submitit')
ONE_THREAD = {'BN_ROBUST_THREADS': '1'}  # CPU results depend on the thread count; fix it so 1 and 2 workers must agree

def comparable(rec):
    "What must not depend on how runs were scheduled: id, config, metrics, history without wall times"
    return {'id': rec['id'], 'label': rec['label'], 'config': rec['config'], 'metrics': rec['metrics'],
            'history': [{k: v for k, v in h.items() if k != 'seconds'} for h in rec['history']],
            'bn': rec['bn'], 'retrain_params': rec['retrain_params']}

@pytest.mark.long
def test_local_workers_match_one_worker(tmp_path):
    a, b = tmp_path/'A', tmp_path/'B'
    base = ['run', 'table3', '--profile', 'smoke', '--seeds', '0', '--no-notebook', '--executor', 'local']
    ra = cli(*base, '--workers', '2', '--out', a, env=ONE_THREAD)
    rb = cli(*base, '--workers', '1', '--out', b, env=ONE_THREAD)
    recs_a, recs_b = records(a), records(b)
    assert len(recs_a) == 5 and [r['id'] for r in recs_a] == [r['id'] for r in recs_b]
    for x, y in zip(recs_a, recs_b): assert comparable(x) == comparable(y), x['label']
    assert '2 local worker processes, 1 thread each' in ra.stdout and '1 local worker process, 1 thread each' in rb.stdout
    for r in (ra, rb):
        text = r.stdout + r.stderr
        assert text.count(' ran ') == 5 and text.count('cached') >= 5  # each run once by a worker, then found by the in-process pass
    st = json.loads(cli('status', '--out', a, '--json').stdout)
    assert [s['status'] for s in st] == ['done']*5 and {s['id'] for s in st} == {r['id'] for r in recs_a}

@pytest.mark.long
def test_submitit_local_table1_then_status(tmp_path):
    c = tmp_path/'C'
    args = ['run', 'table1', '--profile', 'smoke', '--seeds', '0', '--no-notebook', '--executor', 'submitit-local', '--out', c]
    # a checkpoint of another config in one step-2 run's folder makes its job fail; the other 5 finish
    bad = next(cfg for cfg in EXPERIMENTS['table1'].runs('smoke', [0]) if cfg.label == 'All_A Rest_N')
    (c/'runs'/bad.id).mkdir(parents=True)
    torch.save({'config_hash': '0123456789', 'trainer': {}}, c/'runs'/bad.id/'ckpt.pt')
    r = cli(*args, check=False, env=ONE_THREAD)
    assert r.returncode == 2
    assert f"1 of 6 runs failed:\n  All_A Rest_N ({bad.id}): job " in r.stderr and 'belongs to another config' in r.stderr
    assert '_log.err' in r.stderr
    st = {s['id']: s for s in json.loads(cli('status', '--out', c, '--json').stdout)}
    assert len(st) == 6 and st[bad.id]['status'] == 'failed'
    assert sum(s['status'] == 'done' for s in st.values()) == 5
    # resubmitting just works: only the failed run runs again
    (c/'runs'/bad.id/'ckpt.pt').unlink()
    r = cli(*args, env=ONE_THREAD)
    assert '6 runs, 5 cached, 1 to run' in r.stdout
    assert len(records(c)) == 6
    jobs = json.loads((c/'slurm'/'jobs.json').read_text())
    assert set(jobs) == set(st) and all(Path(j['stdout']).exists() and Path(j['stderr']).exists() for j in jobs.values())
    assert list((c/'slurm').glob('*_log.out')) and list((c/'slurm').glob('*_result.pkl'))
    st = json.loads(cli('status', '--out', c, '--json').stdout)
    assert len(st) == 6 and {s['status'] for s in st} == {'done'} and all(s['job'] for s in st)
    table = cli('status', '--out', c).stdout
    assert '6 runs: 6 done' in table and 'All_A Rest_N' in table

def test_status_without_runs(tmp_path):
    r = cli('status', '--out', tmp_path/'nothing', check=False)
    assert r.returncode == 2 and 'no such folder' in r.stderr

def test_status_tells_every_committed_run_apart():
    "Batch-size, reset, depth, norm, length and weight-decay variants of one label each get their own line"
    r = cli('status', '--out', ROOT/'outputs', '--json')
    rows = json.loads(r.stdout)
    keys = [(x['label'], x['seed'], x['profile'], x['variant']) for x in rows]
    assert len(rows) > 100 and len(set(keys)) == len(keys)
    assert {x['variant'] for x in rows if x['label'] == 'All_N' and x['profile'] == 'mini'} >= {
        'resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152', 'resnet18-gn', 'resnet18-ln', 'vgg16'}

def test_threads_env_fixes_a_plain_run(tmp_path):
    "BN_ROBUST_THREADS is the one home of the thread count: a plain inline run trains with it too; a bad value is one line"
    cli('run', 'table5', '--profile', 'smoke', '--seeds', '0', '--out', tmp_path, '--no-notebook', env={'BN_ROBUST_THREADS': '1'})
    recs = records(tmp_path)
    assert len(recs) == 4 and all(r['device_name'].endswith('1 threads)') for r in recs), [r['device_name'] for r in recs]
    r = cli('run', 'table5', '--profile', 'smoke', '--out', tmp_path/'bad', check=False, env={'BN_ROBUST_THREADS': 'two'})
    assert r.returncode == 2 and r.stderr.strip().count('\n') == 0 and 'BN_ROBUST_THREADS' in r.stderr
    assert not (tmp_path/'bad').exists()

"Several runs at once (`--concurrent N`) and the CUDA-graph path (`--compile cudagraph`), on the CPU: every record equals the run trained alone."
import json, os, re, shutil, signal, subprocess, time
import pytest
from conftest import cli, records, BIN

ENV = {'OMP_NUM_THREADS': '1', 'BN_ROBUST_THREADS': '1'}  # fixed threads: records comparable bit for bit
TABLE1 = ('run', 'table1', '--profile', 'smoke', '--device', 'cpu', '--no-notebook')

def _science(r):
    "What a run computed (metrics, history without timings, BN summary, retrained entries), not when or how fast"
    return {'metrics': r['metrics'], 'bn': r['bn'], 'retrain_params': r['retrain_params'],
            'history': [{k: v for k, v in h.items() if k != 'seconds'} for h in r['history']]}

def _by_id(out): return {r['id']: _science(r) for r in records(out)}

@pytest.fixture(scope='module')
def alone(tmp_path_factory):
    "Smoke Table 1, seeds 0 and 1, one run at a time: the reference"
    out = tmp_path_factory.mktemp('alone')
    cli(*TABLE1, '--seeds', '0', '1', '--out', out, env=ENV, timeout=900)
    return _by_id(out)

@pytest.mark.long
def test_concurrent_records_equal_alone(alone, tmp_path):
    r = cli(*TABLE1, '--seeds', '0', '1', '--out', tmp_path, '--concurrent', '3', env=ENV, timeout=900)
    got = records(tmp_path)
    assert len(got) == 12 and {g['id']: _science(g) for g in got} == alone
    assert all(g['options']['concurrent'] == 3 for g in got)
    assert len(re.findall(r'\[\d+/12\] ran ', r.stdout)) == 12, r.stdout

@pytest.mark.long
def test_concurrent_resumes_after_sigkill(alone, tmp_path):
    "Killed while several runs train side by side: the next call resumes them and every record equals the one trained alone"
    args = [str(BIN/'bn-robust'), *TABLE1, '--seeds', '0', '1', '--out', str(tmp_path), '--concurrent', '3']
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                         env={**os.environ, **ENV, 'PYTHONUNBUFFERED': '1'})
    t0 = time.time()
    while p.poll() is None and len(list(tmp_path.glob('runs/*/ckpt.pt'))) < 2 and time.time() - t0 < 300: time.sleep(0.01)
    assert p.poll() is None, 'the batch ended before two runs had a checkpoint'
    os.killpg(p.pid, signal.SIGKILL); p.wait()
    assert len(records(tmp_path)) < 12
    r = cli(*TABLE1, '--seeds', '0', '1', '--out', tmp_path, '--concurrent', '3', env=ENV, timeout=900)
    assert 'resuming' in r.stdout, r.stdout
    assert _by_id(tmp_path) == alone
    assert not list(tmp_path.glob('runs/*/ckpt.pt')) and not list(tmp_path.glob('runs/*/lock'))

@pytest.mark.long
def test_concurrent_budget_stops_and_next_call_finishes(alone, tmp_path):
    "A spent budget starts nothing and leaves nothing half-written; the next call, with time, finishes to the same records"
    r = cli(*TABLE1, '--seeds', '0', '1', '--out', tmp_path, '--concurrent', '3', '--budget', '0.0001', env=ENV, timeout=900)
    assert 'not started' in r.stdout and 'table1 [smoke]: 0 of 12 runs done' in r.stdout, r.stdout
    assert not records(tmp_path) and not list(tmp_path.glob('runs/*/ckpt.pt'))
    r = cli(*TABLE1, '--seeds', '0', '1', '--out', tmp_path, '--concurrent', '3', '--budget', '30', env=ENV, timeout=900)
    assert 'table1 [smoke]: 12 of 12 runs done' in r.stdout, r.stdout
    assert _by_id(tmp_path) == alone

def test_bad_concurrent_is_one_line(tmp_path):
    for extra in (['--concurrent', '0'], ['--concurrent', '2', '--executor', 'local'], ['--concurrent', 'two']):
        r = cli(*TABLE1, '--seeds', '0', '--out', tmp_path, *extra, check=False)
        assert r.returncode == 2 and r.stderr.strip().count('\n') == 0 and 'concurrent' in r.stderr, r.stderr
    assert not (tmp_path/'runs').exists() or not list((tmp_path/'runs').iterdir())

@pytest.mark.long
def test_bnstats_under_cudagraph_equals_eager(tmp_path):
    "The part where nothing trains (`bn_stats`) once crashed the graph path: now the whole experiment runs, notebook included"
    run = ('run', 'bnstats', '--profile', 'smoke', '--seeds', '0', '--device', 'cpu')
    cli(*run, '--out', tmp_path/'eager', '--no-notebook', env=ENV, timeout=900)
    r = cli(*run, '--out', tmp_path/'graph', '--compile', 'cudagraph', env=ENV, timeout=900)
    assert (tmp_path/'graph'/'notebooks'/'bnstats-smoke.ipynb').exists(), r.stdout
    graph = records(tmp_path/'graph')
    assert len(graph) == 6 and all(g['options']['compile'] == 'cudagraph' for g in graph)
    assert {g['id']: _science(g) for g in graph} == _by_id(tmp_path/'eager')

@pytest.mark.long
def test_bench_concurrent_cpu(tmp_path):
    r = cli('bench', '--device', 'cpu', '--width', '0.125', '--batch-size', '16', '--concurrent', '2', '--kernels',
            env={**ENV, 'BN_ROBUST_BENCH_DIR': str(tmp_path)}, timeout=600)
    assert 'PGD-10 trainings side by side' in r.stdout and re.search(r'^\s+1\s+[\d.]+\s+[\d.]+\s+[\d.]+x$', r.stdout, re.M), r.stdout
    assert re.search(r'^\s+2\s+[\d.]+\s+[\d.]+\s+[\d.]+x$', r.stdout, re.M), r.stdout
    res = json.loads((tmp_path/'cpu-resnet18-w0.125-b16.json').read_text())
    runs = res['concurrent']['runs']
    assert set(runs) == {'1', '2'} and all(v['total_img_s'] > 0 and abs(v['per_run_img_s']*int(n) - v['total_img_s']) < 1e-6*v['total_img_s']
                                           for n, v in runs.items())
    assert res['kernels']['kernels_per_step'] > 100

@pytest.mark.long
def test_bench_cudagraph_checks_graph_against_eager(tmp_path):
    r = cli('bench', '--device', 'cpu', '--width', '0.125', '--batch-size', '16', '--compile', 'cudagraph',
            env={**ENV, 'BN_ROBUST_BENCH_DIR': str(tmp_path)}, timeout=600)
    assert re.search(r'graph against eager .*: PASSED', r.stdout), r.stdout
    g = json.loads((tmp_path/'cpu-resnet18-w0.125-b16-compile-cudagraph.json').read_text())['graph_equivalence']
    assert g['passed'] and g['max_rel_diff'] == 0 and len(g['cases']) == 26

def test_bench_default_does_not_touch_committed_results():
    "Typed as a new user would, the bench writes to outputs/yours/bench, never over the committed outputs/bench"
    from bn_robust.bench import bench_dir
    from bn_robust.runs import repo_root
    assert bench_dir() == repo_root()/'outputs'/'yours'/'bench' or os.environ.get('BN_ROBUST_BENCH_DIR')
    assert bench_dir(committed=True) == repo_root()/'outputs'/'bench' or os.environ.get('BN_ROBUST_BENCH_DIR')

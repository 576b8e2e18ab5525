"`bn-robust bench` end to end on the CPU: a narrow model and small batches, under a minute."
import json, time
import pytest
from conftest import cli

WORKLOADS = {'natural_train', 'pgd10_train', 'bn_pgd10_retrain', 'pgd100_eval'}

@pytest.mark.long
def test_bench_cpu_json(tmp_path):
    # one OpenMP thread: on a busy 2-core machine a second thread that gets descheduled stalls every op
    env = {'BN_ROBUST_BENCH_DIR': str(tmp_path), 'OMP_NUM_THREADS': '1'}
    t0 = time.time()
    r = cli('bench', '--device', 'cpu', '--json', '--width', '0.125', '--batch-size', '32', timeout=300, env=env)
    took = time.time() - t0
    res = json.loads(r.stdout)
    for k in ('device', 'device_name', 'arch', 'width', 'batch_size', 'precision', 'workloads', 'equivalence', 'torch', 'git_commit'):
        assert k in res, k
    assert (res['device'], res['arch'], res['width'], res['batch_size'], res['precision']) == ('cpu', 'resnet18', 0.125, 32, 'fp32')
    assert set(res['workloads']) == WORKLOADS
    for name, w in res['workloads'].items():
        assert w['fast_img_s'] > 0 and w['textbook_img_s'] > 0, name
        assert abs(w['ratio'] - w['fast_img_s']/w['textbook_img_s']) < 1e-9, name
        assert 'mfu' not in w  # GPU only
    eq = res['equivalence']
    assert eq['passed'] is True and eq['max_rel_diff'] <= eq['rtol'] == 1e-4
    assert set(eq['cases']) == {'natural_train', 'pgd_train', 'bn_pgd_retrain', 'pgd_eval', 'fold_bn'}
    assert eq['cases']['fold_bn']['same_pixels'] >= eq['min_same_pixels'] == 0.99
    saved = tmp_path/'cpu-resnet18-w0.125-b32.json'
    assert json.loads(saved.read_text())['workloads'].keys() == res['workloads'].keys()
    assert 'saved' in r.stderr
    assert took < 120, f"bench took {took:.0f} s"

def test_bench_bad_input_is_one_line():
    r = cli('bench', '--device', 'tpu', check=False)
    assert r.returncode == 2 and r.stderr.strip().count('\n') == 0 and "unknown device 'tpu'" in r.stderr
    r = cli('bench', '--precision', 'fp16', check=False)
    assert r.returncode == 2 and 'unknown precision' in r.stderr

def test_bench_cuda_without_gpu():
    import pytest, torch
    if torch.cuda.is_available(): pytest.skip('this machine has a GPU')
    r = cli('bench', '--device', 'cuda', check=False)
    assert r.returncode == 2 and 'no CUDA GPU' in r.stderr and r.stderr.strip().count('\n') == 0

"""Bad input: one clear line, exit status 2, no traceback, nothing written to runs/.

`python tests/test_bad_input.py` prints the table of cases with the message each one gives (README's table)."""
import json, os, pickle, subprocess, sys
from pathlib import Path
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import BIN, ROOT

def fake_cifar(d, damage=None):
    "A cifar-10-batches-py folder in the original format, holding the embedded sample (so it fails the full set's hashes)"
    from bn_robust.data import read_sample, TRAIN_FILES
    a, d = read_sample(), Path(d)/'cifar-10-batches-py'
    d.mkdir(parents=True)
    rows = lambda x: x.transpose(0, 3, 1, 2).reshape(len(x), -1)
    for i, f in enumerate(TRAIN_FILES):
        sl = slice(i*1000, (i + 1)*1000)
        pickle.dump({'data': rows(a['x_train'][sl]), 'labels': a['y_train'][sl].tolist()}, open(d/f, 'wb'))
    pickle.dump({'data': rows(a['x_test']), 'labels': a['y_test'].tolist()}, open(d/'test_batch', 'wb'))
    if damage == 'missing': (d/'data_batch_3').unlink()
    if damage == 'truncated': (d/'data_batch_2').write_bytes((d/'data_batch_2').read_bytes()[:5000])
    return d.parent

RUN = ['run', 'table1', '--profile', 'smoke', '--no-notebook']
# (case, bn-robust arguments with {out} and {tmp} placeholders, expected part of the message)
CLI_CASES = [
    ('unknown experiment', ['run', 'table8', '--out', '{out}'], "unknown experiment 'table8'"),
    ('unknown profile', [*RUN, '--profile', 'huge', '--out', '{out}'], "unknown profile 'huge'"),
    ('unknown device', [*RUN, '--device', 'tpu', '--out', '{out}'], "unknown device 'tpu'"),
    ('--device cuda without a GPU', [*RUN, '--device', 'cuda', '--out', '{out}'], 'no CUDA GPU is available'),
    ('negative seed', [*RUN, '--seeds', '-1', '--out', '{out}'], 'seeds must be a non-empty list of non-negative integers'),
    ('seed not a number', [*RUN, '--seeds', 'one', '--out', '{out}'], 'seeds must be a non-empty list of non-negative integers'),
    ('fractional seed', [*RUN, '--seeds', '1.5', '--out', '{out}'], 'seeds must be a non-empty list of non-negative integers'),
    ('data folder missing', [*RUN, '--profile', 'paper', '--data-dir', '{tmp}/nowhere', '--out', '{out}'], 'data folder not found'),
    ('data folder fails the content hash', [*RUN, '--profile', 'paper', '--data-dir', '{fake}', '--out', '{out}'], 'content check failed for x_train'),
    ('data folder incomplete', [*RUN, '--profile', 'paper', '--data-dir', '{fake_missing}', '--out', '{out}'], 'CIFAR-10 file missing'),
    ('data file truncated', [*RUN, '--profile', 'paper', '--data-dir', '{fake_truncated}', '--out', '{out}'], 'CIFAR-10 file unreadable'),
    ('outputs folder is a file', [*RUN, '--out', '{tmp}/afile'], 'is not writable'),
    ('outputs folder not writable', [*RUN, '--out', '/proc/bn_robust_out'], 'is not writable'),
    ('empty data folder (sample profile)', [*RUN, '--data-dir', '', '--out', '{out}'], "the data folder given is empty ('')"),
    ('data folder without CIFAR-10 (sample profile)', [*RUN, '--data-dir', '{tmp}', '--out', '{out}'], 'holds no CIFAR-10'),
    ('run into the committed results', [*RUN, '--out', str(ROOT/'outputs')], 'committed records; new runs go to outputs/yours/'),
    ('report without runs', ['report', '--out', '{tmp}'], 'no runs under'),
    ('report on a missing folder', ['report', '--out', '{tmp}/nowhere'], 'no such folder'),
    ('status on a missing folder', ['status', '--out', '{tmp}/nowhere'], 'no such folder'),
    ('unknown command', ['train', 'table1'], "invalid choice: 'train'"),
    ('run without an experiment', ['run'], 'the following arguments are required'),
    ('unknown option', [*RUN, '--epochs', '3'], 'unrecognized arguments: --epochs 3'),
    ('bench on an unknown device', ['bench', '--device', 'tpu'], "unknown device 'tpu'"),
    ('bench on cuda without a GPU', ['bench', '--device', 'cuda'], 'no CUDA GPU is available'),
    ('unknown compile mode', [*RUN, '--compile', 'fast', '--out', '{out}'], "invalid choice: 'fast'"),
    ('rerun of an unknown run', ['rerun', 'mini-resnet18-w0.25-s0-All_X-0000000000', '--out', '{out}'], 'no valid record for run'),
]

def _prepare(tmp):
    tmp = Path(tmp)
    (tmp/'afile').write_text('not a folder')
    return {'out': tmp/'out', 'tmp': tmp, 'fake': fake_cifar(tmp/'fake'), 'fake_missing': fake_cifar(tmp/'fake_m', 'missing'),
            'fake_truncated': fake_cifar(tmp/'fake_t', 'truncated')}

def run_cli_case(args, where):
    args = [a.format(**where) for a in args]
    return subprocess.run([str(BIN/'bn-robust'), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'CUDA_VISIBLE_DEVICES': '', 'MPLBACKEND': 'Agg'})

@pytest.fixture(scope='module')
def where(tmp_path_factory): return _prepare(tmp_path_factory.mktemp('bad'))

@pytest.mark.parametrize('case,args,expected', CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input(case, args, expected, where):
    r = run_cli_case(args, where)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert len(lines) == 1 and expected in lines[0], r.stderr
    assert 'Traceback' not in r.stderr + r.stdout
    assert not list(Path(where['out']).glob('runs/*')), 'something was written to runs/'

def test_debug_shows_the_traceback(where):
    r = run_cli_case(['--debug', 'run', 'table8'], where)
    assert r.returncode != 0 and 'Traceback' in r.stderr

# papermill parameters: the notebook's first cell rejects them before any run starts
NB_CASES = [
    ('unknown notebook parameter', ['-p', 'seed', '0'], 'unknown parameter(s) seed'),
    ('seeds of the wrong type', ['-p', 'seeds', 'abc'], 'seeds must be a non-empty list'),
    ('seeds as a bare integer', ['-p', 'seeds', '0'], "such as [0] (papermill: -p seeds '[0]')"),
    ('negative seed in the list', ['-p', 'seeds', '[0, -2]'], 'seeds must be a non-empty list'),
    ('unknown profile parameter', ['-p', 'profile', 'huge'], "unknown profile 'huge'"),
    ('notebook asked for another table', ['-p', 'experiment', 'table3'], "this notebook makes table1, table2, table4, not 'table3'"),
]

@pytest.mark.parametrize('case,args,expected', NB_CASES, ids=[c[0] for c in NB_CASES])
def test_papermill_bad_parameters(case, args, expected, tmp_path):
    nb = ROOT/'nbs'/'experiments'/'grid.ipynb'
    r = subprocess.run([str(BIN/'papermill'), str(nb), str(tmp_path/'o.ipynb'), '-p', 'profile', 'smoke', '-p', 'out_dir', str(tmp_path/'out'),
                        *args, '--no-progress-bar'], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and expected in r.stderr + r.stdout, r.stderr[-2000:]
    assert not (tmp_path/'out'/'runs').exists()

# the Python API: each bad value is one RunError/ValueError naming it
from bn_robust.runs import run_config, RunError
API_CASES = [
    ('unknown arch', dict(arch='resnet20'), "unknown arch 'resnet20'"),
    ('unknown part', dict(part='bn_first', regime='A'), "unknown part 'bn_first'"),
    ('unknown layer name', dict(part='layer:layer5.0.conv1', regime='A'), "unknown layer 'layer5.0.conv1'"),
    ('unknown reset mode', dict(part='bn', regime='A', reset='all'), "unknown reset mode 'all'"),
    ('unknown regime', dict(part='bn', regime='B'), "unknown regime 'B'"),
    ('unknown base regime', dict(base='X'), "unknown base regime 'X'"),
    ('zero batch size', dict(part='bn', regime='A', batch_size=0), 'batch size must be an integer >= 2'),
    ('negative batch size', dict(part='bn', regime='A', batch_size=-32), 'batch size must be an integer >= 2'),
    ('zero epochs', dict(epochs=0), 'epochs must be a positive integer'),
    ('negative epochs', dict(epochs=-3), 'epochs must be a positive integer'),
    ('eps of zero', dict(train_attack=dict(eps=0.0, step=1/255, steps=3)), 'attack eps must be in (0, 1]'),
    ('eps above 1', dict(eval_attack=dict(eps=8.0, step=1/255, steps=3)), 'attack eps must be in (0, 1]'),
    ('step above 1', dict(train_attack=dict(eps=8/255, step=2.0, steps=3)), 'attack step must be in (0, 1]'),
    ('zero attack steps', dict(train_attack=dict(eps=8/255, step=2/255, steps=0)), 'attack steps must be a positive integer'),
    ('unknown precision', dict(precision='fp8'), "unknown precision 'fp8'"),
    ('negative seed (API)', dict(seed=-1), 'seed must be a non-negative integer'),
]

@pytest.mark.parametrize('case,kw,expected', API_CASES, ids=[c[0] for c in API_CASES])
def test_api_bad_input(case, kw, expected):
    with pytest.raises(RunError) as e: run_config('smoke', **kw)
    assert expected in str(e.value)

def test_corrupt_embedded_sample(tmp_path):
    from bn_robust.data import read_sample, DataError
    p = tmp_path/'s.npz'; p.write_bytes(b'PK garbage')
    with pytest.raises(DataError, match='embedded sample unreadable'): read_sample(p)

if __name__ == '__main__':  # the table of cases, with the message each one gives today
    import tempfile
    with tempfile.TemporaryDirectory() as t:
        where = _prepare(t)
        print('| case | input | message |\n|---|---|---|')
        for case, args, _ in CLI_CASES:
            r = run_cli_case(args, where)
            shown = ' '.join(a.format(**{k: f'<{k}>' for k in where}) for a in args)
            print(f"| {case} | `bn-robust {shown}` | {r.stderr.strip().replace('|', '/')} (exit {r.returncode}) |")
        for case, args, expected in NB_CASES: print(f"| {case} | `papermill nbs/experiments/grid.ipynb ... {' '.join(args)}` | ... {expected} ... |")
        for case, kw, _ in API_CASES:
            try: run_config('smoke', **kw)
            except RunError as e: print(f"| {case} | `run_config('smoke', {', '.join(f'{k}={v!r}' for k, v in kw.items())})` | {e} |")

"""scripts/loan.sh, the three calls of a GPU loan (docs/gpu.md), as a CPU dry run: the three calls back to back on the
same tree and state folder, $OUT emptied between calls as the device tool does; each call's files, the verdict, the
records of call 3 (carrying LOAN_COMMIT), exit status 0, no git called; a missing LOAN_COMMIT is one line, exit 2."""
import json, os, shutil, subprocess, sys, tarfile, time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT/'scripts'/'loan.sh'
COMMIT = '0123456789abcdef0123456789abcdef01234567'  # any 40 hex digits: the dry run never asks git
MAX_FILES = 8  # what the device tool brings back from $OUT


def loan(call, env=None, timeout=600):
    "Run `bash scripts/loan.sh CALL`; the CompletedProcess"
    return subprocess.run(['bash', str(SCRIPT), str(call)], capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def files_in(out: Path) -> list:
    "Paths of the files under `out`, relative, sorted"
    return sorted(str(p.relative_to(out)) for p in out.rglob('*') if p.is_file())


@pytest.fixture(scope='module')
def dry_loan(tmp_path_factory):
    "The three dry-run calls back to back: {call: (CompletedProcess, files of its $OUT, copy of its $OUT)}, state folder"
    base = tmp_path_factory.mktemp('loan')
    state, out, fake = base/'state', base/'out', base/'bin'
    fake.mkdir()
    (fake/'git').write_text(f"#!/bin/sh\necho \"$@\" >> {base/'git-called'}\nexit 1\n")  # the device has no git
    (fake/'git').chmod(0o755)
    env = {'LOAN_DRY_RUN': '1', 'LOAN_COMMIT': COMMIT, 'LOAN_STATE': str(state), 'OUT': str(out), 'PYTHON': sys.executable,
           'PATH': f"{fake}:{os.environ['PATH']}", 'OMP_NUM_THREADS': '1', 'BN_ROBUST_THREADS': '1'}
    res, t0 = {}, time.time()
    for call in (1, 2, 3):
        if out.exists(): shutil.rmtree(out)
        out.mkdir()  # the device tool hands each command an empty $OUT
        r = loan(call, env)
        keep = base/f'out{call}'
        shutil.copytree(out, keep)
        res[call] = (r, files_in(out), keep)
    print(f"three dry-run calls: {time.time() - t0:.0f} s")
    return res, state, base


def check_call(res, call):
    r, files, keep = res[call]
    assert r.returncode == 0, f"call {call}: exit {r.returncode}\n{r.stdout[-4000:]}\n{r.stderr[-2000:]}"
    assert f'call{call}.log' in files
    assert len(files) <= MAX_FILES, files
    assert all(f.count('/') <= 2 for f in files), files  # at most 2 folders down
    log = (keep/f'call{call}.log').read_text()
    assert f'call {call} done' in log and 'DRY RUN' in log
    return r, files, keep, log


@pytest.mark.long
def test_call1_bench_matrix_and_verdict(dry_loan):
    res, state, _ = dry_loan
    r, files, keep, log = check_call(res, 1)
    benches = [f for f in files if f.startswith('bench/')]
    assert len(benches) == 4, files  # {fp32, bf16} x {off, cudagraph}
    got = {(d['precision'], d['compile']) for d in (json.loads((keep/f).read_text()) for f in benches)}
    assert got == {('fp32', 'off'), ('fp32', 'cudagraph'), ('bf16', 'off'), ('bf16', 'cudagraph')}
    for f in benches:
        d = json.loads((keep/f).read_text())
        assert d['git_commit'] == COMMIT and d['width'] == 0.125 and d['batch_size'] == 16
        if d['compile'] == 'cudagraph': assert d['graph_equivalence']['passed']
        if d['precision'] == 'fp32' and d['compile'] == 'cudagraph':
            assert set(d['concurrent']['runs']) == {'1', '2'} and d['kernels']['kernels_per_step'] > 0
    prof = json.loads((keep/'profile.json').read_text())
    assert set(prof['configs']) == {'fp32-off', 'bf16-off', 'fp32-cudagraph', 'bf16-cudagraph'}
    assert all('error' not in c and c['kernels_per_step'] > 0 for c in prof['configs'].values())
    v = json.loads((keep/'verdict.json').read_text())
    assert v == json.loads((state/'verdict.json').read_text())  # kept for calls 2 and 3 on the same machine
    assert v['cudagraph_passed'] is True and v['compile_for_runs'] == 'cudagraph'  # on a CPU the graph path is the eager one
    assert v['fastest'] in v['configs'] and v['fastest_pgd10_img_s'] > 0
    assert v['concurrent_for_runs'] in (1, 2) and v['concurrent_measured']
    assert v['card'].startswith('cpu') and v['git_commit'] == COMMIT
    assert 'nbdev_test --flags gpu: skipped' in log and 'verdict on cpu' in log


@pytest.mark.long
def test_call2_again_and_eval_speed(dry_loan):
    res, state, _ = dry_loan
    r, files, keep, log = check_call(res, 2)
    v = json.loads((state/'verdict.json').read_text())
    again = [f for f in files if f.startswith('bench/')]
    assert len(again) == 1 and again[0].endswith('-run2.json'), files
    d = json.loads((keep/again[0]).read_text())
    assert (d['precision'], d['compile']) == (v['fastest_precision'], v['fastest_compile'])
    s = json.loads((keep/'speed.json').read_text())
    assert set(s['measurements']) == {'first', 'again'} and set(s['spread']) == set(d['workloads'])
    assert s['measured']['images'] == 100 and s['measured']['pgd20_10k_seconds'] > 0
    assert all(m['pgd20_10k_seconds_from_pgd100'] > 0 for m in s['measurements'].values())
    assert f"fastest in call 1: {v['fastest_precision']} {v['fastest_compile']}" in log


@pytest.mark.long
def test_call3_runs_records_report(dry_loan):
    res, state, _ = dry_loan
    r, files, keep, log = check_call(res, 3)
    v = json.loads((state/'verdict.json').read_text())
    assert f"verdict of call 1: --compile {v['compile_for_runs']}" in log
    assert f"--concurrent {v['concurrent_for_runs']}" in log and '--profile smoke' in log
    assert (state/'cache'/'cifar-10-batches-py'/'test_batch').is_file()  # the three packs, unpacked
    assert 'records.tgz' in files
    with tarfile.open(keep/'records.tgz') as t:
        names = t.getnames()
        assert names and all(n.startswith('outputs/runs/') and n.endswith('/record.json') for n in names)
        recs = [json.load(t.extractfile(n)) for n in names]
    assert all(rec['git_commit'] == COMMIT and rec['config']['profile'] == 'smoke' for rec in recs)
    assert len(recs) == len(list((state/'outputs'/'runs').glob('*/record.json')))  # every record of this call, none missed
    assert 'budget: used' in log  # the runs' budget report
    assert not (ROOT/'.loan'/'call3.steps').exists()  # the dry run kept to its state folder


@pytest.mark.long
def test_no_git_called(dry_loan):
    _, _, base = dry_loan
    assert not (base/'git-called').exists(), (base/'git-called').read_text()


@pytest.mark.parametrize('env', [{}, {'LOAN_COMMIT': ''}, {'LOAN_COMMIT': '<paste git rev-parse HEAD here>'},
                                 {'LOAN_COMMIT': 'abc123'}, {'LOAN_DRY_RUN': '1'}])
def test_missing_commit_is_one_line(env, tmp_path):
    e = {k: v for k, v in os.environ.items() if k != 'LOAN_COMMIT'}
    r = subprocess.run(['bash', str(SCRIPT), '1'], capture_output=True, text=True, timeout=60, cwd=ROOT,
                       env={**e, 'OUT': str(tmp_path), 'LOAN_STATE': str(tmp_path/'state'), **env})
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('loan: error: LOAN_COMMIT'), r.stderr
    assert r.stdout == '' and not list(tmp_path.iterdir())  # refused before anything ran


def test_bad_call_is_one_line():
    r = loan(4, {'LOAN_COMMIT': COMMIT})
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith('loan: error: usage')

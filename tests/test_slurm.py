"""`--executor slurm` against a real SLURM (`scripts/slurm-local.sh start`; `.ci/run` starts one): the grid goes in at
once with `afterok` dependencies and the command returns; a preempted job is requeued and resumes; a failed base job
leaves its dependents not run and `bn-robust status` says why. Skipped where no SLURM controller answers."""
import json, os, shutil, signal, subprocess, time
from pathlib import Path
import pytest, torch
from conftest import cli, records, ROOT
from bn_robust.experiments import EXPERIMENTS

pytest.importorskip('submitit')
if not os.environ.get('SLURM_CONF') and (ROOT/'.slurm'/'slurmctld.pid').exists():  # started by the script, env not exported
    os.environ['SLURM_CONF'] = str(ROOT/'.slurm'/'slurm.conf')

def _no_slurm():
    "Why SLURM cannot be used here, or '' when a controller answers"
    if shutil.which('sinfo') is None or shutil.which('sbatch') is None: return 'no SLURM client (sinfo, sbatch) on PATH'
    try: r = subprocess.run(['sinfo', '-h', '-o', '%T'], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired: return 'sinfo timed out'
    if r.returncode != 0: return f"no SLURM controller answers: {' '.join(r.stderr.split())[:200]}"
    return '' if r.stdout.strip() else 'SLURM has no nodes'

NO_SLURM = _no_slurm()
pytestmark = pytest.mark.skipif(bool(NO_SLURM), reason=f"{NO_SLURM} (scripts/slurm-local.sh start makes a one-node SLURM)")

JOB_ENV = {'BN_ROBUST_THREADS': '1'}  # fixed threads: SLURM's records must equal the local ones bit for bit
# tests/hold/sitecustomize.py: the first attempt of the run named in $BN_ROBUST_TEST_HOLD waits after that epoch
HOLD_ENV = {'PYTHONPATH': os.pathsep.join(filter(None, [str(ROOT/'tests'/'hold'), os.environ.get('PYTHONPATH')]))}
SLURM = ['--no-notebook', '--executor', 'slurm', '--gpus-per-job', '0', '--cpus-per-job', '1']

def comparable(rec):
    "What must not depend on how a run was scheduled or interrupted: id, config, metrics, history without wall times"
    return {'id': rec['id'], 'label': rec['label'], 'config': rec['config'], 'metrics': rec['metrics'],
            'history': [{k: v for k, v in h.items() if k != 'seconds'} for h in rec['history']],
            'bn': rec['bn'], 'retrain_params': rec['retrain_params']}

def status(out): return {s['id']: s for s in json.loads(cli('status', '--out', out, '--json').stdout)}

def wait_for(cond, timeout, what, every=1.0, more=lambda: ''):
    t0 = time.time()
    while not cond():
        if time.time() - t0 > timeout:
            slurmd = Path(os.environ['SLURM_CONF']).parent/'log'/'slurmd.log' if os.environ.get('SLURM_CONF') else None
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; SLURM:\n"
                                 + subprocess.run(['squeue', '-a', '-t', 'all'], capture_output=True, text=True).stdout[-1500:]
                                 + (f"\nslurmd.log:\n{slurmd.read_text()[-1500:]}" if slurmd and slurmd.exists() else '') + more())
        time.sleep(every)

@pytest.mark.long
def test_table1_submitted_at_once_preempted_job_requeued_records_equal_local(tmp_path):
    out, ref = tmp_path/'slurm', tmp_path/'local'
    cfgs = {c.label: c for c in EXPERIMENTS['table1'].runs('smoke', [0])}
    all_n = cfgs['All_N']
    # All_N's first attempt waits after its epoch-1 checkpoint, so it is surely mid-run when we preempt it
    r = cli('run', 'table1', '--profile', 'smoke', '--seeds', '0', *SLURM, '--out', out,
            env={**JOB_ENV, **HOLD_ENV, 'BN_ROBUST_TEST_HOLD': f'{all_n.id}:1'})
    assert 'submitted 6 runs as SLURM jobs' in r.stdout and 'scancel' in r.stdout and 'bn-robust status --out' in r.stdout
    assert len(records(out)) < 6  # returned before the runs finished (All_N cannot finish while it is held)
    jobs = json.loads((out/'slurm'/'jobs.json').read_text())
    assert set(jobs) == {c.id for c in cfgs.values()}
    for c in cfgs.values():  # each step-2 job waits for its base's job
        if c.part is None: assert 'after' not in jobs[c.id]
        else: assert jobs[c.id]['after'] == jobs[c.base_config().id]['job_id'] and jobs[c.id]['base'] == c.base_config().id
    base_job = jobs[all_n.id]['job_id']
    wait_for(lambda: (out/'slurm'/'held'/f'{all_n.id}.json').exists(), 180, 'All_N to reach its epoch-1 checkpoint')
    for c in cfgs.values():
        if c.part is not None and c.base_config().id == all_n.id:  # SLURM itself holds them back
            show = subprocess.run(['scontrol', 'show', 'job', '-o', jobs[c.id]['job_id']], capture_output=True, text=True).stdout
            assert f'Dependency=afterok:{base_job}(unfulfilled)' in show and 'JobState=PENDING' in show, show
    st = status(out)
    assert st[all_n.id]['status'] == 'running' and st[all_n.id]['job'] == base_job
    dep = next(c for c in cfgs.values() if c.part is not None and c.base_config().id == all_n.id)
    assert st[dep.id]['status'] == 'queued' and f'afterok:{base_job}' in st[dep.id]['reason'] and st[dep.id]['log'].endswith('_log.err')
    table = cli('status', '--out', out).stdout
    assert f'Dependency afterok:{base_job}(unfulfilled)' in table
    # preempt All_N the way SLURM does and submitit expects (SIGTERM, then USR2): it checkpoints, requeues, resumes
    subprocess.run(['scancel', '--signal', 'TERM', base_job], check=True)
    subprocess.run(['scancel', '--signal', 'USR2', base_job], check=True)
    job_log = lambda: ''.join(Path(jobs[all_n.id][k]).read_text() for k in ('stdout', 'stderr') if Path(jobs[all_n.id][k]).exists())
    try: wait_for(lambda: 'Caught signal SIGUSR2' in job_log(), 60, "submitit's handler to log SIGUSR2")
    except AssertionError as e:  # one CI run saw neither signal arrive (cause unknown): say so, then signal the process itself
        held = json.loads((out/'slurm'/'held'/f'{all_n.id}.json').read_text())
        print(f"{e}\nscancel's USR2 was not seen in 60 s; sending it to pid {held['pid']} directly. Job log:\n{job_log()[-2000:]}")
        os.kill(held['pid'], signal.SIGUSR2)
    seen = []
    def requeued():  # SLURM holds a requeued job back a few seconds (BeginTime) before it runs again
        s = status(out)[all_n.id]; seen.append(s['status'])
        if s['status'] == 'requeued': assert s['reason'].startswith('requeued 1 time, BeginTime'), s
        return s['status'] in ('requeued', 'done')
    wait_for(requeued, 240, 'All_N to be requeued', every=0.3, more=lambda: f'\njob log:\n{job_log()[-3000:]}')  # generous: a loaded machine slows the checkpoint and the requeue
    assert seen[-1] == 'requeued', seen
    # meanwhile, the same grid locally with the same thread count: the reference
    cli('run', 'table1', '--profile', 'smoke', '--seeds', '0', '--no-notebook', '--executor', 'local', '--out', ref, env=JOB_ENV)
    wait_for(lambda: all(x['status'] == 'done' for x in status(out).values()), 300, 'all 6 SLURM runs to finish')
    log = Path(jobs[all_n.id]['stdout']).read_text() + Path(jobs[all_n.id]['stderr']).read_text()
    assert 'holding' in log and 'attempt 2 of job' in log and 'resuming All_N from epoch 1/' in log, log[-3000:]
    note = json.loads((out/'slurm'/'owners'/f'{all_n.id}.json').read_text())
    assert note['attempt'] == 2 and note['job_id'] == base_job
    a, b = {x['id']: x for x in records(out)}, {x['id']: x for x in records(ref)}
    assert len(a) == 6 and set(a) == set(b)
    assert a[all_n.id]['status'] == 'resumed'
    for i in a: assert comparable(a[i]) == comparable(b[i]), a[i]['label']
    assert not list(out.glob('runs/*/lock')) and not list(out.glob('runs/*/ckpt.pt'))
    r = cli('run', 'table1', '--profile', 'smoke', '--seeds', '0', *SLURM, '--out', out, env=JOB_ENV)
    assert 'submitted' not in r.stdout and r.stdout.count('  cached ') >= 6  # all cached: nothing goes to SLURM

@pytest.mark.long
def test_failed_base_leaves_dependents_not_run_and_status_says_why(tmp_path):
    out = tmp_path/'slurm'
    cfgs = EXPERIMENTS['table5'].runs('smoke', [0])
    base = next(c for c in cfgs if c.part is None); step2 = [c for c in cfgs if c.part is not None]
    assert len(step2) == 3 and all(c.base_config().id == base.id for c in step2)
    (out/'runs'/base.id).mkdir(parents=True)  # injected failure: a checkpoint of another config in the base run's folder
    torch.save({'config_hash': '0123456789', 'trainer': {}}, out/'runs'/base.id/'ckpt.pt')
    r = cli('run', 'table5', '--profile', 'smoke', '--seeds', '0', *SLURM, '--wait', '--out', out, check=False, env=JOB_ENV)
    assert r.returncode == 2, r.stderr[-2000:]
    assert '4 of 4 runs failed' in r.stderr and 'belongs to another config' in r.stderr
    assert r.stderr.count(f'not started: its base run All_N ({base.id}) failed; SLURM cancelled job') == 3, r.stderr
    jobs = json.loads((out/'slurm'/'jobs.json').read_text())
    st = status(out)
    assert st[base.id]['status'] == 'failed' and 'belongs to another config' in st[base.id]['reason']
    for c in step2:
        assert st[c.id]['status'] == 'cancelled' and not (out/'runs'/c.id/'record.json').exists()
        assert st[c.id]['reason'].startswith(f"not run: its base run All_N ({base.id}, job {jobs[base.id]['job_id']}) is failed")
        assert 'DependencyNeverSatisfied' in st[c.id]['reason']
        assert not Path(jobs[c.id]['stdout']).exists()  # never started
    table = cli('status', '--out', out).stdout
    assert '4 runs: 3 cancelled, 1 failed' in table and 'not run: its base run All_N' in table
    # fix the cause, run the same command again with --wait: it follows the new jobs to the end, then all 4 are done
    (out/'runs'/base.id/'ckpt.pt').unlink()
    r = cli('run', 'table5', '--profile', 'smoke', '--seeds', '0', *SLURM, '--wait', '--out', out, env=JOB_ENV)
    assert '4 runs, 0 cached, 4 to run' in r.stdout and r.stdout.count(' ran ') == 4 and 'scancel' not in r.stdout
    st = status(out)
    assert {s['status'] for s in st.values()} == {'done'} and len(records(out)) == 4
    assert json.loads((out/'slurm'/'jobs.json').read_text())[step2[0].id]['after'] == st[base.id]['job']

def test_sbatch_refusal_is_one_line(tmp_path):
    "The one-node SLURM has no GPUs: the default --gpus-per-job 1 is refused by sbatch, in one line naming the flag, exit 2"
    r = cli('run', 'table1', '--profile', 'smoke', '--seeds', '0', '--out', tmp_path, '--no-notebook', '--executor', 'slurm',
            check=False, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'sbatch refused the jobs' in lines[0] and '--gpus-per-job 0' in lines[0] and 'Traceback' not in r.stderr, r.stderr

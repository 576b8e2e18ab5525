"Interrupted, concurrent and damaged runs: nothing lost, nothing half-written, nothing trained twice."
import json, os, random, signal, subprocess, sys, time, warnings
from pathlib import Path
import pytest
import torch
from conftest import cli, records, BIN

from bn_robust.runs import run_config, ensure_run, run_dir, save_torch, RunError
from bn_robust.train import Diverged

RUN = ['run', 'table1', '--profile', 'smoke', '--seeds', '0', '--no-notebook']

def _strip(rec):
    "What must be equal between an interrupted and an uninterrupted run (wall times excluded)"
    return {'metrics': rec['metrics'], 'history': [{k: v for k, v in h.items() if k != 'seconds'} for h in rec['history']],
            'config': rec['config'], 'bn': rec['bn']}

def _by_id(out): return {r['id']: _strip(r) for r in records(out)}

@pytest.mark.long
def test_sigkill_at_random_moments_then_resume_equals_uninterrupted(tmp_path):
    ref, out = tmp_path/'ref', tmp_path/'killed'
    cli(*RUN, '--out', ref)
    rng, kills, logs = random.Random(0), 0, []
    while True:  # SIGKILL 4 times at random moments inside runs (a checkpoint exists), then let it finish
        p = subprocess.Popen([str(BIN/'bn-robust'), *RUN, '--out', str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True, env={**os.environ, 'PYTHONUNBUFFERED': '1'})
        if kills < 4:
            seen = {c: c.stat().st_mtime for c in out.glob('runs/*/ckpt.pt')}
            while p.poll() is None and not any(seen.get(c) != c.stat().st_mtime for c in out.glob('runs/*/ckpt.pt') if c.exists()):
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.6))
        if p.poll() is None and kills < 4:
            os.killpg(p.pid, signal.SIGKILL); p.wait(); kills += 1
            logs.append(p.stdout.read()); continue
        logs.append(p.communicate(timeout=600)[0])
        assert p.returncode == 0, logs[-1][-2000:]
        break
    assert kills >= 2, 'the test must interrupt the run at least twice'
    assert any('resuming' in l for l in logs), 'no kill landed inside a run; the resume path was not exercised'
    assert not list(out.glob('runs/*/ckpt.pt')) and not list(out.glob('runs/*/lock')) and not list(out.glob('runs/*/.*.tmp'))
    assert _by_id(out) == _by_id(ref)

def test_two_runners_train_each_run_once(tmp_path):
    procs = [subprocess.Popen([str(BIN/'bn-robust'), *RUN, '--out', str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    # one line per run: '  [i/n] STATUS label ...'
    status = [w[1] for o in outs for w in map(str.split, o.splitlines()) if len(w) > 1 and w[0].startswith('[') and w[1] in ('ran', 'cached', 'waited', 'resumed')]
    assert status.count('ran') == 6 and len(status) == 12, status
    recs = records(tmp_path)
    assert len(recs) == 6 and all(set(r['metrics']) == {'clean_loss', 'clean_acc', 'adv_loss', 'adv_acc'} for r in recs)

def test_torn_checkpoint_is_discarded_and_run_restarts(tmp_path):
    cfg = run_config('smoke', seed=3)
    d = run_dir(tmp_path, cfg); d.mkdir(parents=True)
    (d/'ckpt.pt').write_bytes(b'PK\x03\x04 torn')
    with pytest.warns(UserWarning, match='discarding unreadable checkpoint'):
        rec, status = ensure_run(cfg, tmp_path, 'cpu', progress=False)
    assert status == 'ran' and len(rec['history']) == cfg.epochs

def test_temp_files_of_a_killed_writer_are_removed(tmp_path):
    "A SIGKILL inside atomic_write leaves `.ckpt.pt.<pid>.tmp`; the next runner to hold the run's lock removes it"
    cfg = run_config('smoke', seed=5)
    d = run_dir(tmp_path, cfg); d.mkdir(parents=True)
    (d/'.ckpt.pt.99999.tmp').write_bytes(b'half a checkpoint'); (d/'.record.json.99999.tmp').write_text('{"id"')
    rec, status = ensure_run(cfg, tmp_path, 'cpu', progress=False)
    assert status == 'ran' and not list(d.glob('.*.tmp'))

def test_truncated_checkpoint_is_discarded(tmp_path):
    cfg = run_config('smoke', seed=4)
    ref, _ = ensure_run(cfg, tmp_path/'ref', 'cpu', progress=False)
    d = run_dir(tmp_path, cfg); d.mkdir(parents=True)
    save_torch(d/'ckpt.pt', {'config_hash': cfg.hash, 'trainer': {'model': torch.zeros(1000)}})
    (d/'ckpt.pt').write_bytes((d/'ckpt.pt').read_bytes()[:300])
    with pytest.warns(UserWarning, match='discarding'):
        rec, status = ensure_run(cfg, tmp_path, 'cpu', progress=False)
    assert _strip(rec) == _strip(ref)

def test_foreign_checkpoint_is_refused(tmp_path):
    cfg, other = run_config('smoke', seed=5), run_config('smoke', seed=6)
    d = run_dir(tmp_path, cfg); d.mkdir(parents=True)
    save_torch(d/'ckpt.pt', {'config_hash': other.hash, 'trainer': {}})
    with pytest.raises(RunError, match='belongs to another config'): ensure_run(cfg, tmp_path, 'cpu', progress=False)
    assert not (d/'record.json').exists()

def test_torn_record_is_set_aside_and_redone(tmp_path):
    cfg = run_config('smoke', seed=7)
    ref, _ = ensure_run(cfg, tmp_path, 'cpu', progress=False)
    p = run_dir(tmp_path, cfg)/'record.json'
    p.write_text(p.read_text()[:100])
    with pytest.warns(UserWarning, match='setting aside invalid record'):
        rec, status = ensure_run(cfg, tmp_path, 'cpu', progress=False)
    assert status == 'ran' and _strip(rec) == _strip(ref)

def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    cfg = run_config('smoke', seed=8)
    d = run_dir(tmp_path, cfg); d.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, '-c', 'pass']); dead.wait()
    import socket
    (d/'lock').write_text(json.dumps({'pid': dead.pid, 'host': socket.gethostname(), 'time': 0}))
    rec, status = ensure_run(cfg, tmp_path, 'cpu', progress=False)
    assert status == 'ran' and not (d/'lock').exists()

def test_diverging_run_stops_and_records_the_failure(tmp_path):
    cfg = run_config('smoke', seed=9, lr=1e8)
    with pytest.raises(Diverged, match=r'diverged in epoch \d'): ensure_run(cfg, tmp_path, 'cpu', progress=False)
    d = run_dir(tmp_path, cfg)
    assert not (d/'record.json').exists()
    fail = json.loads((d/'failed.json').read_text())
    assert 'diverged in epoch' in fail['error'] and fail['label'] == 'All_N'

def test_no_unsafe_loading_in_the_package():
    src = {p.name: p.read_text() for p in Path(__file__).resolve().parents[1].joinpath('bn_robust').glob('*.py')}
    for name, text in src.items():
        for line in text.splitlines():
            if 'torch.load(' in line: assert 'weights_only=True' in line, (name, line)
            if 'pickle.load(' in line: assert name == 'data.py', (name, line)

def test_expired_lock_of_another_host_is_taken_over(tmp_path):
    "A preempted job hard-killed on another node leaves its lock on the shared filesystem: once it stops beating (2 h here), a run takes over"
    cfg = run_config('smoke', seed=9)
    d = run_dir(tmp_path, cfg); d.mkdir(parents=True)
    (d/'lock').write_text(json.dumps({'pid': 4242, 'host': 'another-node.cluster', 'time': time.time() - 7200}))
    os.utime(d/'lock', (time.time() - 7200, time.time() - 7200))
    from bn_robust.runs import RunLock
    assert not RunLock(d/'lock')._owner_alive()  # (before: 'another machine: trust it', and the run below waited forever)
    rec, status = ensure_run(cfg, tmp_path, 'cpu', progress=False)
    assert status == 'ran' and not (d/'lock').exists()

def test_live_lock_of_another_host_is_trusted_and_kept_fresh(tmp_path, monkeypatch):
    "A lock another host touched recently is trusted; a held lock is touched every LOCK_HEARTBEAT_S"
    import bn_robust.runs as runs
    p = tmp_path/'lock'
    p.write_text(json.dumps({'pid': 4242, 'host': 'another-node.cluster', 'time': time.time()}))
    assert runs.RunLock(p)._owner_alive()
    p.unlink()
    monkeypatch.setattr(runs, 'LOCK_HEARTBEAT_S', 0.05)
    with runs.RunLock(p):
        os.utime(p, (0, 0)); time.sleep(0.5)
        assert time.time() - p.stat().st_mtime < 5
    assert not p.exists()

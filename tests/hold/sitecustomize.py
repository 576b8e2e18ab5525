"""A test hook that lives with the tests, not in the package. Python imports `sitecustomize` at the start of every
process whose PYTHONPATH holds this folder; tests/test_slurm.py gives it to its SLURM jobs. With
`$BN_ROBUST_TEST_HOLD=RUN_ID:EPOCH`, the first attempt of that run's job waits after saving that epoch's
checkpoint, so that the test can preempt it there; a requeued attempt (SLURM_RESTART_COUNT > 0) runs through."""
import os

_run_id, _, _epoch = os.environ.get('BN_ROBUST_TEST_HOLD', '').rpartition(':')
if _run_id and _epoch.isdigit() and os.environ.get('SLURM_JOB_ID') and int(os.environ.get('SLURM_RESTART_COUNT') or 0) == 0:
    import time
    from pathlib import Path
    from bn_robust import runs

    _save = runs.save_torch
    def _save_then_hold(path, obj):
        _save(path, obj)
        path = Path(path)
        if path.name == 'ckpt.pt' and path.parent.name == _run_id and obj['trainer']['epoch'] >= int(_epoch):
            runs.write_json(path.parents[2]/'slurm'/'held'/f'{_run_id}.json', {'epoch': obj['trainer']['epoch'], 'pid': os.getpid()})
            print(f"BN_ROBUST_TEST_HOLD: holding {_run_id} after epoch {obj['trainer']['epoch']}", flush=True)
            time.sleep(600)
    runs.save_torch = _save_then_hold

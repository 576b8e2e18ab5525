"torch.compile as a speed option: same numbers as the eager fast path, recorded in each run, bad modes rejected."
import json
import pytest, torch
from conftest import cli, records
from bn_robust.attacks import Attack
from bn_robust.data import load_cifar10
from bn_robust.models import make_model
from bn_robust.train import Trainer, TrainConfig

def _steps(compile_mode, data, n=2):
    "Losses of `n` PGD training steps (BN folded while crafting) and the weights after them"
    torch.manual_seed(0)
    cfg = TrainConfig(regime='A', batch_size=32, attack=Attack(steps=3), channels_last=True, compile=compile_mode)
    tr = Trainer(make_model('resnet18', 0.125), data, cfg, progress=False)
    it, losses = iter(tr.batches), []
    for _ in range(n):
        sums = torch.zeros(3)
        tr.step(*next(it), sums)
        losses.append(sums[0].item()/sums[2].item())
    return losses, [p.detach().clone() for p in tr.model.parameters()]

@pytest.mark.long
def test_compiled_step_equals_eager():
    data = load_cifar10('sample', n_train=64, n_test=10)
    eager, w_eager = _steps('off', data)
    comp, w_comp = _steps('default', data)
    torch.manual_seed(0); w0 = list(make_model('resnet18', 0.125).parameters())
    # fused kernels round differently, and a rounding difference can flip a PGD step's sign at a few pixels:
    # losses equal to float tolerance, weights differing by a small fraction of how far training moved them
    assert all(abs(a - b) <= 1e-4*abs(b) for a, b in zip(comp, eager)), (comp, eager)
    moved = max((a - b).abs().max().item() for a, b in zip(w_eager, w0))
    diff = max((a - b).abs().max().item() for a, b in zip(w_comp, w_eager))
    assert moved > 0.01 and diff < 0.02*moved, (diff, moved)

@pytest.mark.long
def test_run_records_compile_mode(tmp_path):
    cli('run', 'table1', '--profile', 'smoke', '--seeds', '0', '--out', tmp_path, '--no-notebook', '--compile', 'default', timeout=900)
    recs = records(tmp_path)
    assert len(recs) == 6 and all(r['options']['compile'] == 'default' for r in recs)

def test_bad_compile_mode_is_one_line(tmp_path):
    r = cli('run', 'table1', '--profile', 'smoke', '--out', tmp_path, '--compile', 'fast', check=False)
    assert r.returncode == 2 and r.stderr.strip().count('\n') == 0 and "invalid choice: 'fast'" in r.stderr
    r = cli('run', 'table1', '--profile', 'smoke', '--out', tmp_path, check=False, env={'BN_ROBUST_COMPILE': 'fast'})
    assert r.returncode == 2 and 'unknown BN_ROBUST_COMPILE' in r.stderr
    assert not (tmp_path/'runs').exists()
    r = cli('bench', '--compile', 'fast', check=False)
    assert r.returncode == 2 and "invalid choice: 'fast'" in r.stderr

@pytest.mark.long
def test_cudagraph_step_equals_eager():
    "The whole-step CUDA-graph path, graph-free on the CPU (static buffers), equals the plain step exactly; the bench's equivalence check passes on it"
    data = load_cifar10('sample', n_train=64, n_test=10)
    eager, w_eager = _steps('off', data)
    graphed, w_graphed = _steps('cudagraph', data)
    assert graphed == eager and all(torch.equal(a, b) for a, b in zip(w_graphed, w_eager))
    from bn_robust.bench import equivalence
    eq = equivalence('resnet18', 0.125, batch_size=16, device='cpu', n_steps=2, compile='cudagraph')
    assert eq['passed'], eq['max_rel_diff']

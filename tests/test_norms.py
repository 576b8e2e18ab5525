"Issue 16: GN/LN models, BN statistics vs affine, VGG-16-BN: behaviour that must not regress"
import json
from pathlib import Path

import pytest
import torch

from bn_robust.data import load_cifar10
from bn_robust.experiments import EXPERIMENTS
from bn_robust.freeze import prepare_retraining, select_part, is_bn
from bn_robust.models import make_model, is_norm
from bn_robust.runs import RunConfig, run_config
from bn_robust.train import Trainer, TrainConfig
from bn_robust.attacks import Attack

ROOT = Path(__file__).resolve().parents[1]
RECORDS = sorted((ROOT/'outputs'/'runs').glob('*/record.json'))


def test_committed_ids_unchanged():
    "Every committed record's id is what its config gives today (no new field changed an id)"
    assert len(RECORDS) >= 10
    for p in RECORDS:
        rec = json.loads(p.read_text())
        cfg = RunConfig(**rec['config'])
        assert cfg.id == rec['id'] == p.parent.name
        assert cfg.to_json() == rec['config']


@pytest.mark.parametrize('exp', ['table1', 'table3', 'table6'])
def test_experiment_ids_found(exp):
    "The BN experiments list the very runs committed under outputs/runs (mini, seeds 0-2)"
    have = {p.parent.name for p in RECORDS}
    ids = [c.id for c in EXPERIMENTS[exp].runs('mini', [0, 1, 2])]
    assert set(ids) <= have


@pytest.mark.parametrize('arch,norm', [('resnet18', 'gn'), ('resnet18', 'ln'), ('resnet50', 'gn'), ('vgg16', 'ln')])
def test_gn_ln_hold_no_batchnorm(arch, norm):
    m = make_model(arch, 0.125, norm=norm)
    assert not any(is_bn(x) for x in m.modules())
    assert not any('running' in k or 'num_batches' in k for k in m.state_dict())
    assert list(m.buffers()) == [m.norm.mean, m.norm.std]  # only the input normalization's (not saved)
    assert sum(is_norm(x) for x in m.modules()) == sum(is_bn(x) for x in make_model(arch, 0.125).modules())


@pytest.fixture(scope='module')
def base():
    torch.manual_seed(0)
    data = load_cifar10('sample', n_train=20, n_test=10)
    m = make_model('resnet18', 0.125)
    Trainer(m, data, TrainConfig(epochs=1, regime='N', batch_size=100), progress=False).fit()
    return data, {k: v.clone() for k, v in m.state_dict().items()}


def _retrain(base, part, reset='reinit'):
    data, sd = base
    m = make_model('resnet18', 0.125); m.load_state_dict(sd)
    p = prepare_retraining(m, part, reset, seed=0)
    after_reset = {k: v.clone() for k, v in m.state_dict().items()}
    Trainer(m, data, TrainConfig(epochs=1, regime='A', batch_size=100, attack=Attack(steps=1)), p, progress=False).fit()
    return m, after_reset


def test_bn_stats_changes_stats_only(base):
    m, start = _retrain(base, 'bn_stats', 'none')
    sd = m.state_dict()
    params = {n for n, _ in m.named_parameters()}
    assert all(torch.equal(sd[k], base[1][k]) for k in params)                   # bit for bit
    stats = [k for k in sd if 'running' in k]
    assert all(not torch.equal(sd[k], start[k]) for k in stats)                 # every statistic moved


def test_bn_affine_changes_gamma_beta_only(base):
    m, start = _retrain(base, 'bn_affine', 'reinit')
    sd = m.state_dict()
    changed = {k for k in sd if not torch.equal(sd[k], start[k])}
    assert changed == set(select_part(m, 'bn').params)
    assert all(torch.equal(sd[k], base[1][k]) for k in sd if 'running' in k or 'num_batches' in k)


def test_gn_norm_part_retrains(base):
    data, _ = base
    m = make_model('resnet18', 0.125, norm='gn')
    p = prepare_retraining(m, 'norm', 'reinit')
    before = {k: v.clone() for k, v in m.state_dict().items()}
    Trainer(m, data, TrainConfig(epochs=1, regime='A', batch_size=100, attack=Attack(steps=1)), p, progress=False).fit()
    changed = {k for k, v in m.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == set(p.params) and p.count == select_part(make_model('resnet18', 0.125), 'bn').count


def test_run_configs():
    assert run_config('mini', part='norm', regime='A') == run_config('mini', part='bn', regime='A')
    g = run_config('mini', part='norm', regime='A', norm='gn')
    assert g.label == 'All_N GN_A' and '-gn-' in g.id and g.base_config().norm == 'gn'

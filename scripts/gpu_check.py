#!/usr/bin/env python3
"""One prepared GPU check (H100/H200), about 8 minutes, every result written as JSON as soon as it exists.

    python3 scripts/gpu_check.py            # from the repository root; needs torch, torchvision, numpy, tqdm

In order of priority, each step skipped (and recorded as skipped) when the time left cannot fit it:
  1. equivalence: fast path and textbook loop, fp32, ResNet-18 width 1, batch 128, PGD-10 / PGD-100, 3 steps
  2. bench ResNet-18 width 1, batch 128, fp32          (images/s fast vs textbook, ratio, MFU)
  3. bench ResNet-18 width 1, batch 128, bf16 fast path with the whole step as one CUDA graph (compile 'cudagraph'),
     then the same in fp32; each bench runs its own fp32 equivalence check of that path against the textbook loop
  3b. bench ResNet-18 width 1, batch 128, bf16 fast path (eager)
  4. bench ResNet-18 width 1, batch 128, bf16 fast path through torch.compile (GPU_CHECK_COMPILE, default
     'reduce-overhead': Inductor's fused kernels replayed as CUDA graphs); compiling is part of the warm-up
  5. real training: 3 epochs of All_A (PGD-10 adversarial, all parameters), ResNet-18 width 1, the paper's
     recipe through the library's Trainer (channels_last, fp32), on the full CIFAR-10 from BN_ROBUST_DATA,
     or on the embedded sample if that is not set; then clean and PGD-20 accuracy on 1,000 test images
  6. bench ResNet-50 width 1, batch 128, fp32, then bf16 with the step as one CUDA graph

Output: $OUT if set, else outputs/bench/ of the checkout: one bench JSON per configuration (names carry the
card, e.g. cuda-nvidia-h100-80gb-hbm3-resnet18-w1.json), and gpu_check-<card>.json with everything.
Environment: GPU_CHECK_BUDGET_S (default 480) is the time the script plans for; GPU_CHECK_SMOKE=1 runs the
same steps on the CPU at toy sizes (width 1/8, batch 32, one epoch on 200 images) to check the script itself.
"""
import json, os, re, sys, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
T0 = time.time()
BUDGET = float(os.environ.get('GPU_CHECK_BUDGET_S', 480))

import torch
from bn_robust.attacks import Attack, TRAIN_ATTACK, evaluate
from bn_robust.bench import Plan, bench, equivalence, format_bench, save_bench, peak_flops, step_flops
from bn_robust.data import load_cifar10, DataError
from bn_robust.models import make_model, forward_flops
from bn_robust.runs import device_name, git_commit, write_json
from bn_robust.train import Trainer, TrainConfig

def left(): return BUDGET - (time.time() - T0)
def say(s): print(f"[{time.time() - T0:6.1f} s] {s}", flush=True)

SMOKE = os.environ.get('GPU_CHECK_SMOKE') == '1'
if not (SMOKE or torch.cuda.is_available()): sys.exit("gpu_check: no CUDA GPU here")
DEV = torch.device('cpu' if SMOKE else 'cuda')
W, BS = (0.125, 32) if SMOKE else (1.0, 128)
PLAN = Plan(repeats=1, eval_batch=8) if SMOKE else None  # None: the bench's GPU plan
COMPILE = os.environ.get('GPU_CHECK_COMPILE', 'reduce-overhead')  # torch.compile mode of step 4 (CUDA graphs)
def sync():
    if DEV.type == 'cuda': torch.cuda.synchronize()
CARD = device_name(DEV)
SLUG = re.sub(r'[^a-z0-9]+', '-', CARD.lower()).strip('-')
OUT = Path(os.environ['OUT']) if os.environ.get('OUT') else ROOT/'outputs'/'bench'
OUT.mkdir(parents=True, exist_ok=True)
summary = {'device_name': CARD, 'peak_bf16_flops': peak_flops(CARD), 'torch': torch.__version__,
           'cuda': torch.version.cuda, 'git_commit': git_commit(), 'budget_s': BUDGET, 'steps': {}}

def save_summary():
    summary['elapsed_s'] = time.time() - T0
    write_json(OUT/f'gpu_check-{SLUG}.json', summary)

def step(name, need_s, fn):
    "Run `fn` if about `need_s` seconds are left; record its result, its error or that it was skipped"
    if SMOKE and 'compile' not in name: need_s = need_s/10  # toy sizes take seconds; compiling takes minutes at any size
    if left() < need_s:
        summary['steps'][name] = {'status': 'skipped', 'reason': f'{left():.0f} s left, needs about {need_s} s'}
        say(f"{name}: skipped ({left():.0f} s left)"); save_summary(); return
    say(f"{name}: start")
    t = time.time()
    try:
        summary['steps'][name] = {'status': 'ok', 'seconds': None, **fn()}
    except Exception as e:
        summary['steps'][name] = {'status': 'error', 'error': f"{type(e).__name__}: {e}", 'traceback': traceback.format_exc()[-3000:]}
        say(f"{name}: ERROR {type(e).__name__}: {e}")
    summary['steps'][name]['seconds'] = time.time() - t
    if DEV.type == 'cuda': torch.cuda.empty_cache()
    save_summary()
    say(f"{name}: {summary['steps'][name]['status']} in {time.time() - t:.0f} s")

def do_equivalence():
    eq = equivalence('resnet18', W, batch_size=BS, device=DEV, n_steps=3)
    write_json(OUT/f'equivalence-{DEV.type}-{SLUG}-resnet18-w{W:g}.json', eq)
    say(f"equivalence {'PASSED' if eq['passed'] else 'FAILED'}, max rel diff {eq['max_rel_diff']:.2e}")
    return {'passed': eq['passed'], 'max_rel_diff': eq['max_rel_diff'], 'cases': {k: c['max_rel_diff'] for k, c in eq['cases'].items()}}

def do_bench(arch, precision, compile='off'):
    def fn():
        res = bench(DEV.type, arch, W, BS, precision, plan=PLAN, equiv={'n_steps': 2}, log=say, compile=compile)
        path = save_bench(res, out_dir=OUT)
        print(format_bench(res), flush=True)
        return {'file': path.name, 'equivalence_passed': res['equivalence']['passed'],
                'workloads': {w: {k: r.get(k) for k in ('fast_img_s', 'textbook_img_s', 'ratio', 'mfu', 'textbook_mfu')}
                              for w, r in res['workloads'].items()}}
    return fn

def do_training(epochs=3):
    try:
        data = load_cifar10('full', verbose=True) if os.environ.get('BN_ROBUST_DATA') and not SMOKE else \
               load_cifar10('sample', n_train=20 if SMOKE else None, verbose=True)
    except DataError as e:
        say(f"full CIFAR-10 unusable ({e}); using the embedded sample"); data = load_cifar10('sample')
    data = data.to(DEV)
    torch.manual_seed(0)
    model = make_model('resnet18', W)
    f = forward_flops(model)
    cfg = TrainConfig(epochs=80, regime='A', attack=TRAIN_ATTACK, seed=0, channels_last=True)  # the paper's All_A recipe
    tr = Trainer(model, data, cfg, progress=False)
    hist = []
    for _ in range(epochs):
        sync(); h = tr.train_epoch(); sync()
        ips = len(data.y_train)/h["seconds"]  # Batches trains every image (a last partial batch included)
        h = {**h, 'img_s': ips, 'mfu': ips*step_flops(f, TRAIN_ATTACK.steps)/peak_flops(CARD) if peak_flops(CARD) else None}
        hist.append(h); say(f"epoch {h['epoch']}: {h['seconds']:.1f} s, {ips:.0f} img/s, loss {h['train_loss']:.3f}, acc {h['train_acc']:.3f}")
    n = min(100 if SMOKE else 1000, len(data.y_test))
    t = time.time()
    m = evaluate(tr.model, data.x_test[:n], data.y_test[:n], Attack(8/255, 2/255, 20), progress=False)
    steady = [h['seconds'] for h in hist[1:]] or [hist[0]['seconds']]
    per_epoch = sum(steady)/len(steady)
    return {'data': data.source, 'width': W, 'n_train': len(data.y_train), 'history': hist, 'eval_1000_pgd20': m, 'eval_seconds': time.time() - t,
            'est_paper_all_a_hours': per_epoch*80*(50000/len(data.y_train))/3600}

step('equivalence', 60, do_equivalence)
step('bench-resnet18-fp32', 90, do_bench('resnet18', 'fp32'))
step('bench-resnet18-bf16-cudagraph', 90, do_bench('resnet18', 'bf16', 'cudagraph'))
step('bench-resnet18-fp32-cudagraph', 90, do_bench('resnet18', 'fp32', 'cudagraph'))
step('bench-resnet18-bf16', 90, do_bench('resnet18', 'bf16'))
step(f'bench-resnet18-bf16-compile-{COMPILE}', 200, do_bench('resnet18', 'bf16', COMPILE))
step('train-all_a-resnet18-3ep', 120, lambda: do_training(1 if SMOKE else 3))
step('bench-resnet50-fp32', 150, do_bench('resnet50', 'fp32'))
step('bench-resnet50-bf16-cudagraph', 150, do_bench('resnet50', 'bf16', 'cudagraph'))
save_summary()
say(f"done; results in {OUT}")
bad = [k for k, s in summary['steps'].items() if s['status'] == 'error' or s.get('passed') is False or s.get('equivalence_passed') is False]
sys.exit(1 if bad else 0)

#!/usr/bin/env python3
"""The Python steps of `scripts/loan.sh` (docs/gpu.md): the card, a profiler summary, the verdict, evaluation speed.

    python3 scripts/gpu_check.py env                       # the card and versions (one JSON object)
    python3 scripts/gpu_check.py profile --device cuda --out profile.json
    python3 scripts/gpu_check.py verdict BENCH_DIR --out verdict.json [--profile profile.json] [--steps steps.tsv]
    python3 scripts/gpu_check.py evalspeed --device cuda --bench AGAIN.json [--first FIRST.json] --out speed.json
    python3 scripts/gpu_check.py get FILE KEY [DEFAULT]    # one value of a JSON file for the shell (DEFAULT if absent)
    python3 scripts/gpu_check.py synth-packs DEST          # three small packs of random CIFAR-like data (dry runs)

Run from anywhere; the checkout's `bn_robust` is imported (the device machine has no installed package and no git:
every result carries `$BN_ROBUST_GIT_COMMIT`). Every number is written with the card that gave it (`card`).

`profile`: kernels (on a CPU: aten operators) of one PGD-10 training step, ResNet-18 width 1, batch 128, in fp32 and
bf16, eager and as one CUDA graph (`--compile cudagraph`), with the GPU-busy share of the step's wall time and the
kernels grouped by kind (convolution, cast/copy, batchnorm, elementwise, ...): the test of docs/gpu.md's hypothesis
on why bf16 was slower (more kernels, casts, idle gaps) without a trace file to carry back.

`verdict`: reads the bench JSONs under BENCH_DIR (one folder per configuration, as loan.sh writes them) and says
which compile mode passed `graph_equivalence` (cudagraph is used for runs only if every cudagraph bench passed it),
which configuration was fastest on the PGD-10 training step (the workload that dominates the `gpu` profile's runs;
a cudagraph configuration counts only if it passed), and which number of runs side by side gave the most images per
second (`concurrent_for_runs`: the smallest N within 5% of the best total; 4 if not measured).

`evalspeed`: the PGD-100 evaluation numbers of both bench measurements of one configuration, the PGD-20
evaluation of 10,000 test images computed from them (2 + 3 x 20 = 62 model passes per image against 302 for
PGD-100), and the same evaluation measured: the library's `evaluate` (as runs call it: batch 500, fp32, BN folded)
of a fresh model on the embedded sample's 1,000 test images repeated to 10,000 (on a CPU: `--n`, default 100); plus
the spread between the two measurements of every workload.

Errors: one line `gpu_check: error: ...` on stderr, exit status 2.
"""
import argparse, json, math, os, statistics, sys, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PGD20_PASSES, PGD100_PASSES = 2 + 3*20, 2 + 3*100  # model passes per image: clean + attack forward/backward + final
CONFIGS = (('fp32', 'off'), ('bf16', 'off'), ('fp32', 'cudagraph'), ('bf16', 'cudagraph'))
KINDS = (('cast/copy', ('copy', 'cast', 'convert')), ('batchnorm', ('batch_norm', 'batchnorm', 'bn_fw', 'bn_bw')),
         ('convolution', ('conv', 'implicit_gemm', 'xmma', 'cudnn', 'winograd', 'fprop', 'dgrad', 'wgrad', 'cutlass')),
         ('gemm', ('gemm', 'cublas', 'addmm', 'aten::mm', 'linear')), ('reduction', ('reduce', 'sum', 'mean', 'max', 'argmax')),
         ('elementwise', ('elementwise', 'vectorized', 'relu', 'add', 'mul', 'clamp', 'sign', 'where', 'fill', 'sub', 'div')),
         ('memcpy/memset', ('memcpy', 'memset')))


class Fail(Exception):
    "A problem reported as one line"


def write_json(path, obj):
    "Write `obj` as JSON to `path` atomically (folders made as needed)"
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    tmp.write_text(json.dumps(obj, indent=1, default=str) + '\n')
    os.replace(tmp, path)


def read_json(path):
    "A JSON file's content, or Fail"
    try: return json.loads(Path(path).read_text())
    except FileNotFoundError: raise Fail(f"no such file: {path}") from None
    except (OSError, ValueError) as e: raise Fail(f"cannot read {path}: {e}") from None


# ---------------------------------------------------------------- env

def card_info(device='auto') -> dict:
    "The card (or CPU) and versions this process sees"
    import torch
    from bn_robust.runs import device_name, git_commit
    dev = torch.device('cuda' if device in ('auto', 'cuda') and torch.cuda.is_available() else 'cpu')
    info = {'device': dev.type, 'card': device_name(dev), 'torch': torch.__version__, 'cuda': torch.version.cuda,
            'cudnn': torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            'python': sys.version.split()[0], 'git_commit': git_commit(), 'cuda_available': torch.cuda.is_available()}
    if dev.type == 'cuda':
        p = torch.cuda.get_device_properties(dev)
        info.update(gpus=torch.cuda.device_count(), memory_gib=round(p.total_memory/2**30, 1), multiprocessors=p.multi_processor_count)
    return info


def cmd_env(a):
    info = card_info(a.device)
    if a.device == 'cuda' and not info['cuda_available']: raise Fail("torch sees no CUDA device here")
    print(json.dumps(info), flush=True)


# ---------------------------------------------------------------- profile

def kind_of(name: str) -> str:
    "A kernel's (or operator's) kind by its name"
    n = name.lower()
    return next((k for k, words in KINDS if any(w in n for w in words)), 'other')


def profile_step(arch, width, dev, batch_size, precision, compile, steps, data) -> dict:
    "Kernels of `steps` PGD-10 training steps of the library's Trainer (as a run builds it), after a warm-up"
    import torch
    from torch.profiler import profile, ProfilerActivity
    from bn_robust.attacks import TRAIN_ATTACK
    from bn_robust.models import make_model
    from bn_robust.train import Trainer, TrainConfig, GraphedStep
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=80, regime='A', batch_size=batch_size, attack=TRAIN_ATTACK, seed=0, precision=precision,
                      channels_last=True, compile=compile)
    tr = Trainer(make_model(arch, width), data, cfg, progress=False)
    sums = torch.zeros(3, device=dev)
    it = iter(tr.batches)
    def nxt():
        nonlocal it
        try: return next(it)
        except StopIteration: it = iter(tr.batches); return next(it)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)
    tr.train_mode()
    for _ in range(GraphedStep.WARMUP + 2): tr.step(*nxt(), sums)  # cuDNN autotuning; the graph is captured by now
    batches = [nxt() for _ in range(steps)]
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == 'cuda' else [])
    sync(); t0 = time.perf_counter()
    with profile(activities=acts) as prof:
        for xb, yb in batches: tr.step(xb, yb, sums)
        sync()
    wall = time.perf_counter() - t0
    events = prof.events()
    if dev.type == 'cuda': ks = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
    else: ks = [e for e in events if e.name.startswith('aten::')]
    t_us = (lambda e: e.device_time) if dev.type == 'cuda' else (lambda e: e.self_cpu_time_total)
    kinds, names = {}, {}
    for e in ks:
        k = kinds.setdefault(kind_of(e.name), [0, 0.0]); k[0] += 1; k[1] += t_us(e)
        n = names.setdefault(e.name[:90], [0, 0.0]); n[0] += 1; n[1] += t_us(e)
    busy = sum(t_us(e) for e in ks)/1e6
    return {'kernels_per_step': len(ks)/steps, 'ms_per_step': 1e3*wall/steps,
            'gpu_busy_share': busy/wall if dev.type == 'cuda' else None,
            'graph_captures': tr.graphed.captures if tr.graphed is not None else None,
            'kinds': {k: {'per_step': c/steps, 'us_per_step': t/steps} for k, (c, t) in sorted(kinds.items(), key=lambda kv: -kv[1][0])},
            'top': [{'name': n, 'per_step': c/steps, 'us_per_step': t/steps}
                    for n, (c, t) in sorted(names.items(), key=lambda kv: -kv[1][0])[:10]]}


def cmd_profile(a):
    import torch
    from bn_robust.data import load_cifar10
    from bn_robust.runs import device_name
    if a.device == 'cuda' and not torch.cuda.is_available(): raise Fail("torch sees no CUDA device here")
    dev = torch.device(a.device)
    data = load_cifar10('sample').to(dev)
    res = {'card': device_name(dev), 'device': dev.type, 'arch': a.arch, 'width': a.width, 'batch_size': a.batch_size,
           'steps': a.steps, 'workload': 'one PGD-10 training step (all parameters), channels_last', 'torch': torch.__version__,
           'unit': 'CUDA kernels' if dev.type == 'cuda' else 'aten operators (CPU)', 'configs': {}}
    for precision, compile in CONFIGS:
        name = f'{precision}-{compile}'
        t = time.time()
        try: r = profile_step(a.arch, a.width, dev, a.batch_size, precision, compile, a.steps, data)
        except Exception as e:
            r = {'error': f"{type(e).__name__}: {e}", 'traceback': traceback.format_exc()[-2000:]}
            print(f"profile {name}: ERROR {r['error']}", flush=True)
        else:
            busy = f", GPU busy {100*r['gpu_busy_share']:.0f}%" if r['gpu_busy_share'] is not None else ''
            kinds = ', '.join(f"{k} {v['per_step']:.0f}" for k, v in r['kinds'].items())
            print(f"profile {name}: {r['kernels_per_step']:.0f} {res['unit']} per step, {r['ms_per_step']:.1f} ms per step{busy} "
                  f"({kinds})", flush=True)
        r['seconds'] = time.time() - t
        res['configs'][name] = r
        if dev.type == 'cuda': torch.cuda.empty_cache()
        write_json(a.out, res)  # what exists so far, in case the call is stopped
    c = res['configs']
    ok = lambda n: n in c and 'error' not in c[n]
    hyp = {}
    if ok('fp32-off') and ok('bf16-off'):
        hyp['bf16_over_fp32_kernels_eager'] = c['bf16-off']['kernels_per_step']/c['fp32-off']['kernels_per_step']
        hyp['cast_copy_per_step_eager'] = {p: c[f'{p}-off']['kinds'].get('cast/copy', {}).get('per_step', 0) for p in ('fp32', 'bf16')}
        if dev.type == 'cuda':
            hyp['gpu_busy_share_eager'] = {p: c[f'{p}-off']['gpu_busy_share'] for p in ('fp32', 'bf16')}
        hyp['a_more_kernels_in_bf16'] = hyp['bf16_over_fp32_kernels_eager'] > 1.2
    res['hypothesis'] = hyp
    write_json(a.out, res)
    if hyp: print(f"profile: bf16/fp32 kernels per eager step {hyp['bf16_over_fp32_kernels_eager']:.2f}; "
                  f"cast/copy per step fp32 {hyp['cast_copy_per_step_eager']['fp32']:.0f}, bf16 {hyp['cast_copy_per_step_eager']['bf16']:.0f}", flush=True)


# ---------------------------------------------------------------- verdict

def bench_files(bench_dir: Path) -> list:
    "Bench result JSONs under `bench_dir` (any depth), oldest first"
    out = []
    for p in sorted(Path(bench_dir).rglob('*.json'), key=lambda p: p.stat().st_mtime):
        try: d = json.loads(p.read_text())
        except (OSError, ValueError): continue
        if isinstance(d, dict) and 'workloads' in d and 'precision' in d: out.append((p, d))
    return out


def summary_of(p: Path, d: dict) -> dict:
    "The numbers of one bench result that the verdict and the docs use"
    w = d['workloads']
    g = d.get('graph_equivalence')
    s = {'file': p.name, 'card': d.get('device_name'), 'precision': d['precision'], 'compile': d.get('compile', 'off'),
         'width': d.get('width'), 'batch_size': d.get('batch_size'), 'git_commit': d.get('git_commit'),
         'equivalence_passed': d['equivalence']['passed'], 'equivalence_max_rel_diff': d['equivalence']['max_rel_diff'],
         'graph_equivalence_passed': g['passed'] if g else None, 'graph_equivalence_max_rel_diff': g['max_rel_diff'] if g else None,
         'img_s': {k: r['fast_img_s'] for k, r in w.items()}, 'textbook_img_s': {k: r['textbook_img_s'] for k, r in w.items()},
         'ratio': {k: r['ratio'] for k, r in w.items()}, 'mfu': {k: r.get('mfu') for k, r in w.items()},
         'wall_seconds': d.get('wall_seconds')}
    if d.get('concurrent'): s['concurrent'] = {str(n): {k: r.get(k) for k in ('total_img_s', 'per_run_img_s', 'ratio_to_textbook', 'mfu')}
                                               for n, r in d['concurrent']['runs'].items()}
    if d.get('kernels'): s['kernels'] = {k: d['kernels'].get(k) for k in ('kernels_per_step', 'gpu_busy_share', 'wall_s_per_step')}
    return s


def best_concurrent(runs: dict, within=0.05):
    "The smallest number of runs side by side whose total img/s is within `within` of the best total"
    if not runs: return None
    best = max(r['total_img_s'] for r in runs.values())
    return min(int(n) for n, r in runs.items() if r['total_img_s'] >= (1 - within)*best)


def read_steps(path) -> list:
    "The step table loan.sh writes: name, exit status, seconds, what happened (tab-separated)"
    if not path or not Path(path).is_file(): return []
    rows = []
    for line in Path(path).read_text().splitlines():
        f = line.split('\t')
        if len(f) >= 4: rows.append({'step': f[0], 'exit': int(f[1]) if f[1].lstrip('-').isdigit() else None,
                                     'seconds': float(f[2]) if f[2] else None, 'status': f[3]})
    return rows


def cmd_verdict(a):
    files = bench_files(a.bench_dir)
    configs = {}
    for p, d in files: configs[f"{d['precision']}-{d.get('compile', 'off')}"] = summary_of(p, d)  # a later result replaces
    cards = sorted({c['card'] for c in configs.values() if c['card']})
    graphs = {n: c['graph_equivalence_passed'] for n, c in configs.items() if c['compile'] == 'cudagraph'}
    graph_ok = bool(graphs) and all(v is True for v in graphs.values())
    eligible = {n: c for n, c in configs.items() if c['compile'] == 'off' or (c['compile'] == 'cudagraph' and c['graph_equivalence_passed'])}
    fastest = max(eligible, key=lambda n: eligible[n]['img_s']['pgd10_train']) if eligible else None
    conc = next((c['concurrent'] for n, c in sorted(configs.items(), key=lambda kv: kv[0] != 'fp32-cudagraph') if c.get('concurrent')), None)
    n_best = best_concurrent(conc)
    v = {'card': ', '.join(cards) or None, 'git_commit': os.environ.get('BN_ROBUST_GIT_COMMIT'),
         'created': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
         'graph_equivalence': graphs, 'cudagraph_passed': graph_ok if graphs else None,
         'compile_for_runs': 'cudagraph' if graph_ok else 'off',
         'fastest': fastest, 'fastest_pgd10_img_s': eligible[fastest]['img_s']['pgd10_train'] if fastest else None,
         'fastest_precision': eligible[fastest]['precision'] if fastest else None,
         'fastest_compile': eligible[fastest]['compile'] if fastest else None,
         'ranking_pgd10_img_s': {n: c['img_s']['pgd10_train'] for n, c in sorted(configs.items(), key=lambda kv: -kv[1]['img_s']['pgd10_train'])},
         'equivalence_passed': {n: c['equivalence_passed'] for n, c in configs.items()},
         'concurrent': conc, 'concurrent_for_runs': n_best or 4, 'concurrent_measured': n_best is not None,
         'configs': configs, 'steps': read_steps(a.steps)}
    if graphs and not graph_ok: v['why_off'] = 'graph_equivalence failed: ' + ', '.join(n for n, ok in graphs.items() if ok is not True)
    elif not graphs: v['why_off'] = 'no cudagraph bench result'
    if a.profile and Path(a.profile).is_file():
        prof = read_json(a.profile)
        v['profile'] = {n: {k: c.get(k) for k in ('kernels_per_step', 'ms_per_step', 'gpu_busy_share', 'error')}
                        for n, c in prof.get('configs', {}).items()}
        v['hypothesis'] = dict(prof.get('hypothesis', {}))
    if 'bf16-cudagraph' in configs and 'fp32-cudagraph' in configs:
        v.setdefault('hypothesis', {})['b_bf16_faster_under_cudagraph'] = \
            configs['bf16-cudagraph']['img_s']['pgd10_train'] > configs['fp32-cudagraph']['img_s']['pgd10_train']
    for path in [a.out] + (a.copy or []): write_json(path, v)
    print(f"verdict on {v['card']}: cudagraph graph_equivalence "
          f"{'passed' if graph_ok else 'not passed (' + v.get('why_off', '') + ')'}; runs use --compile {v['compile_for_runs']}; "
          f"fastest PGD-10 step: {fastest or '-'}" + (f" {v['fastest_pgd10_img_s']:.0f} img/s" if fastest else '')
          + f"; runs side by side: {v['concurrent_for_runs']}" + ('' if n_best else ' (default: not measured)'), flush=True)
    for n, c in configs.items():
        print(f"  {n:16s} PGD-10 {c['img_s']['pgd10_train']:9.1f} img/s ({c['ratio']['pgd10_train']:.2f}x textbook), "
              f"natural {c['img_s']['natural_train']:9.1f}, PGD-100 eval {c['img_s']['pgd100_eval']:8.1f}; "
              f"equivalence {'passed' if c['equivalence_passed'] else 'FAILED'}"
              + (f", graph {'passed' if c['graph_equivalence_passed'] else 'FAILED'}" if c['compile'] == 'cudagraph' else ''), flush=True)


# ---------------------------------------------------------------- evalspeed

def cmd_evalspeed(a):
    import torch
    from bn_robust.attacks import Attack, evaluate
    from bn_robust.data import load_cifar10
    from bn_robust.models import make_model
    from bn_robust.runs import device_name
    again = read_json(a.bench)
    first = read_json(a.first) if a.first and Path(a.first).is_file() else None
    res = {'card': again.get('device_name'), 'config': f"{again['precision']}-{again.get('compile', 'off')}",
           'arch': again['arch'], 'width': again['width'], 'batch_size': again['batch_size'], 'measurements': {}}
    for k, b in (('first', first), ('again', again)):
        if b is None: continue
        e = b['workloads']['pgd100_eval']
        res['measurements'][k] = {'card': b.get('device_name'), 'created': b.get('created'),
                                  'pgd100_eval_img_s': e['fast_img_s'], 'pgd100_eval_batch': e['batch_size'], 'pgd100_eval_mfu': e.get('mfu'),
                                  'pgd20_10k_seconds_from_pgd100': 10000*PGD20_PASSES/(PGD100_PASSES*e['fast_img_s'])}
    if first is not None:
        if first.get('device_name') != again.get('device_name'):
            res['spread_note'] = f"not comparable: first on {first.get('device_name')}, again on {again.get('device_name')}"
        res['spread'] = {w: {'first_img_s': first['workloads'][w]['fast_img_s'], 'again_img_s': r['fast_img_s'],
                             'rel_change': r['fast_img_s']/first['workloads'][w]['fast_img_s'] - 1}
                         for w, r in again['workloads'].items() if w in first['workloads']}
    else: res['spread_note'] = "no first measurement of this configuration on this machine (call 1's results are gone: cold machine?)"
    if a.device == 'cuda' and not torch.cuda.is_available(): raise Fail("torch sees no CUDA device here")
    dev = torch.device(a.device)
    n = a.n or (10000 if dev.type == 'cuda' else 100)
    data = load_cifar10('sample').to(dev)
    reps = math.ceil(n/len(data.y_test))
    x, y = torch.cat([data.x_test]*reps)[:n], torch.cat([data.y_test]*reps)[:n]
    torch.manual_seed(0)
    model = make_model(again['arch'], again['width']).to(dev, memory_format=torch.channels_last)
    attack = Attack(8/255, 2/255, 20)  # the gpu profile's evaluation
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == 'cuda' else (lambda: None)
    evaluate(model, x[:min(n, 500)], y[:min(n, 500)], Attack(8/255, 2/255, 2), batch_size=500, progress=False); sync()  # warm-up
    secs = []
    for _ in range(a.repeats):
        sync(); t0 = time.perf_counter()
        evaluate(model, x, y, attack, batch_size=500, progress=False); sync()
        secs.append(time.perf_counter() - t0)
    t = statistics.median(secs)
    res['measured'] = {'card': device_name(dev), 'what': f"evaluate (batch 500, fp32, BN folded), PGD-20 step 2/255 eps 8/255, fresh "
                       f"{again['arch']} width {again['width']:g}, {n} test images (the sample's {len(data.y_test)} repeated)",
                       'images': n, 'seconds': secs, 'median_seconds': t, 'img_s': n/t, 'pgd20_10k_seconds': 10000*t/n}
    write_json(a.out, res)
    for k, m in res['measurements'].items():
        print(f"evalspeed {k}: PGD-100 evaluation {m['pgd100_eval_img_s']:.1f} img/s (batch {m['pgd100_eval_batch']}) on {m['card']} -> "
              f"PGD-20 of 10,000 images {m['pgd20_10k_seconds_from_pgd100']:.1f} s (computed)", flush=True)
    print(f"evalspeed measured: PGD-20 of {n} images {t:.2f} s ({n/t:.0f} img/s) on {res['measured']['card']} -> "
          f"10,000 images {10000*t/n:.1f} s", flush=True)
    for w, s in res.get('spread', {}).items():
        print(f"spread {w}: {s['first_img_s']:.1f} then {s['again_img_s']:.1f} img/s ({100*s['rel_change']:+.1f}%)", flush=True)
    if 'spread_note' in res: print(f"spread: {res['spread_note']}", flush=True)


# ---------------------------------------------------------------- get, synth-packs

def cmd_get(a):
    try: v = json.loads(Path(a.file).read_text())
    except (OSError, ValueError):
        if a.default is None: raise Fail(f"cannot read {a.file}") from None
        print(a.default); return
    for k in a.key.split('.'):
        v = v.get(k) if isinstance(v, dict) else None
    if v is None:
        if a.default is None: raise Fail(f"{a.key} not in {a.file}")
        v = a.default
    print(v)


def cmd_synth_packs(a):
    "Three packs of random CIFAR-like batches (as tests/test_packs.py makes them), for dry runs"
    import pickle, subprocess, tempfile
    import numpy as np
    files = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)/'cifar-10-batches-py'; folder.mkdir()
        rng = np.random.default_rng(0)
        for i, name in enumerate(files):
            n = 30 + i
            batch = {'batch_label': f'synthetic {name}', 'labels': rng.integers(0, 10, n).tolist(),
                     'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
            (folder/name).write_bytes(pickle.dumps(batch, protocol=4))
        (folder/'batches.meta').write_bytes(pickle.dumps({'label_names': list('abcdefghij'), 'num_vis': 3072}))
        r = subprocess.run([sys.executable, str(ROOT/'scripts'/'cifar_packs.py'), 'make', str(folder), str(a.dest)],
                           capture_output=True, text=True)
        if r.returncode: raise Fail(f"cifar_packs make failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}")
    print(f"synthetic packs (random data, not CIFAR-10) in {a.dest}", flush=True)


# ---------------------------------------------------------------- command line

class Parser(argparse.ArgumentParser):
    def error(self, message): fail(f"{message} (see --help)")


def fail(message):
    print(f"gpu_check: error: {message}", file=sys.stderr); sys.exit(2)


def parser():
    p = Parser(prog='gpu_check', description="The Python steps of scripts/loan.sh. Errors: one line `gpu_check: error: ...`, exit 2.")
    sub = p.add_subparsers(dest='cmd', required=True, parser_class=Parser)
    s = sub.add_parser('env', help='the card and versions (one JSON object)')
    s.add_argument('--device', default='auto', choices=('auto', 'cuda', 'cpu'))
    s = sub.add_parser('profile', help='kernels of one PGD-10 step, fp32/bf16 x eager/cudagraph')
    s.add_argument('--device', default='cuda', choices=('cuda', 'cpu'))
    s.add_argument('--arch', default='resnet18'); s.add_argument('--width', type=float, default=1.0)
    s.add_argument('--batch-size', type=int, default=128); s.add_argument('--steps', type=int, default=3)
    s.add_argument('--out', type=Path, required=True)
    s = sub.add_parser('verdict', help='compile mode, fastest configuration and runs side by side from bench JSONs')
    s.add_argument('bench_dir', type=Path); s.add_argument('--out', type=Path, required=True)
    s.add_argument('--copy', type=Path, action='append', help='also write the verdict here (repeatable)')
    s.add_argument('--profile', type=Path); s.add_argument('--steps', type=Path)
    s = sub.add_parser('evalspeed', help='evaluation speed from a bench JSON, measured PGD-20, spread of two measurements')
    s.add_argument('--device', default='cuda', choices=('cuda', 'cpu'))
    s.add_argument('--bench', type=Path, required=True, help='the bench JSON of this call')
    s.add_argument('--first', type=Path, help="the earlier bench JSON of the same configuration (call 1's)")
    s.add_argument('--n', type=int, help='test images to evaluate (default 10,000 on CUDA, 100 on a CPU)')
    s.add_argument('--repeats', type=int, default=1); s.add_argument('--out', type=Path, required=True)
    s = sub.add_parser('get', help='one value of a JSON file (dotted KEY), DEFAULT if the file or key is absent')
    s.add_argument('file', type=Path); s.add_argument('key'); s.add_argument('default', nargs='?')
    s = sub.add_parser('synth-packs', help='three packs of random CIFAR-like data (for dry runs)')
    s.add_argument('dest', type=Path)
    return p


def main(argv=None):
    a = parser().parse_args(argv)
    try: {'env': cmd_env, 'profile': cmd_profile, 'verdict': cmd_verdict, 'evalspeed': cmd_evalspeed, 'get': cmd_get,
          'synth-packs': cmd_synth_packs}[a.cmd](a)
    except Fail as e: fail(str(e))


if __name__ == '__main__':
    main()

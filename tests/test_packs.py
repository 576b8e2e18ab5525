"Tests of scripts/cifar_packs.py through its command line: byte-exact round trips, bad input, the 38 MiB limit."
import filecmp, pickle, shutil, subprocess, sys, time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / 'scripts' / 'cifar_packs.py'
SHARED = Path(__file__).resolve().parents[1].parent / 'shared' / 'data'
FILES = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch', 'batches.meta']
PACKS = [f'cifar10-pack-{i}.bin' for i in (1, 2, 3)]
MiB = 1024 * 1024


def packs_cli(*args, timeout=600):
    "Run the script as a user would; returns the CompletedProcess"
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def ok(r):
    "Assert a run succeeded, showing its output otherwise"
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return r


def assert_one_error(r):
    "Assert exit status 2 with exactly one `cifar_packs: error:` line on stderr and no traceback"
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, f"exit {r.returncode}\nstderr:\n{r.stderr}"
    assert len(lines) == 1 and lines[0].startswith('cifar_packs: error:'), r.stderr
    assert 'Traceback' not in r.stderr


def same_files(a: Path, b: Path):
    "Assert the 7 CIFAR files in `a` and `b` are byte-identical"
    for name in FILES: assert filecmp.cmp(a / name, b / name, shallow=False), f"{name} differs"


@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    "(source parent folder, packs folder): a small CIFAR-like folder of random data, packed once"
    root = tmp_path_factory.mktemp('synthetic')
    folder = root / 'src' / 'cifar-10-batches-py'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate(FILES[:-1]):
        n = 37 + i  # odd counts leave padding tiles in the mosaic
        batch = {'batch_label': f'synthetic {name}', 'labels': rng.integers(0, 10, n).tolist(),
                 'data': rng.integers(0, 256, (n, 3072), dtype=np.uint8)}
        # protocol 2 under python 3 does not store the pixels verbatim: that file must take the 'whole' path
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2 if name == 'data_batch_3' else 4))
    (folder / 'batches.meta').write_bytes(pickle.dumps({'label_names': list('abcdefghij'), 'num_vis': 3072}))
    packs = root / 'packs'
    r = ok(packs_cli('make', root / 'src', packs))
    assert sorted(p.name for p in packs.iterdir()) == PACKS
    assert 'data_batch_3' in r.stdout and 'ratio' in r.stdout
    return root / 'src', packs


def test_help():
    r = ok(packs_cli('--help'))
    assert 'make' in r.stdout and 'unpack' in r.stdout


def test_synthetic_round_trip(synthetic, tmp_path):
    src, packs = synthetic
    r = ok(packs_cli('unpack', packs, tmp_path / 'cache', '--no-content-check'))
    out = tmp_path / 'cache' / 'cifar-10-batches-py'
    same_files(src / 'cifar-10-batches-py', out)
    assert sorted(p.name for p in (tmp_path / 'cache').iterdir()) == ['cifar-10-batches-py']  # no temporary left
    assert all(name in r.stdout for name in FILES)
    r = ok(packs_cli('unpack', packs, tmp_path / 'cache', '--no-content-check'))
    assert 'nothing to do' in r.stdout


def test_damaged_cache_is_restored(synthetic, tmp_path):
    src, packs = synthetic
    out = tmp_path / 'cifar-10-batches-py'
    ok(packs_cli('unpack', packs, tmp_path, '--no-content-check'))
    (out / 'data_batch_2').write_bytes(b'damaged')
    (out / 'test_batch').unlink()
    r = ok(packs_cli('unpack', packs, tmp_path, '--no-content-check'))
    assert 'does not match' in r.stdout
    same_files(src / 'cifar-10-batches-py', out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cifar-10-batches-py']


def test_content_check_rejects_other_data(synthetic, tmp_path):
    "Without --no-content-check the synthetic data fails the CIFAR-10 hashes, and nothing is put in place"
    _, packs = synthetic
    r = packs_cli('unpack', packs, tmp_path)
    if 'cannot import bn_robust' in r.stderr: pytest.skip("bn_robust not importable here")
    assert_one_error(r)
    assert 'content check' in r.stderr
    assert list(tmp_path.iterdir()) == []


def truncate(p: Path): p.write_bytes(p.read_bytes()[:-1000])
def flip_byte(p: Path):
    b = bytearray(p.read_bytes()); b[len(b) * 2 // 3] ^= 0xFF; p.write_bytes(bytes(b))
def wrong_magic(p: Path): p.write_bytes(b'NOTAPACK' + p.read_bytes()[8:])
def header_only(p: Path): p.write_bytes(p.read_bytes()[:20])
def empty(p: Path): p.write_bytes(b'')


@pytest.mark.parametrize('damage', [truncate, flip_byte, wrong_magic, header_only, empty, Path.unlink])
def test_bad_pack(synthetic, tmp_path, damage):
    _, packs = synthetic
    bad = tmp_path / 'packs'
    shutil.copytree(packs, bad)
    damage(bad / PACKS[1])
    cache = tmp_path / 'cache'
    r = packs_cli('unpack', bad, cache, '--no-content-check')
    assert_one_error(r)
    assert not cache.exists() or list(cache.iterdir()) == []  # nothing half-written


def test_mixed_packs(synthetic, tmp_path):
    "A pack from another `make` run is refused"
    src, packs = synthetic
    other = tmp_path / 'src' / 'cifar-10-batches-py'
    shutil.copytree(src / 'cifar-10-batches-py', other)
    (other / 'batches.meta').write_bytes(pickle.dumps({'label_names': list('0123456789')}))
    ok(packs_cli('make', tmp_path / 'src', tmp_path / 'other'))
    mixed = tmp_path / 'mixed'
    shutil.copytree(packs, mixed)
    shutil.copy(tmp_path / 'other' / PACKS[2], mixed / PACKS[2])
    r = packs_cli('unpack', mixed, tmp_path / 'cache', '--no-content-check')
    assert_one_error(r)
    assert 'different' in r.stderr
    assert not (tmp_path / 'cache' / 'cifar-10-batches-py').exists()


@pytest.mark.parametrize('args', [
    ['make', 'no-such-folder', 'dest'],
    ['make', 'src-without-meta', 'dest'],
    ['unpack', 'no-such-folder', 'cache'],
    ['make'],
    ['frobnicate'],
])
def test_bad_arguments(synthetic, tmp_path, args):
    src, _ = synthetic
    partial = tmp_path / 'src-without-meta' / 'cifar-10-batches-py'
    shutil.copytree(src / 'cifar-10-batches-py', partial)
    (partial / 'batches.meta').unlink()
    r = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=tmp_path)
    assert_one_error(r)
    assert not (tmp_path / 'dest').exists()


def test_size_limit(synthetic, tmp_path):
    "A pack over the limit is an error, and no pack is written"
    src, _ = synthetic
    r = packs_cli('make', src, tmp_path / 'dest', '--max-mib', '0.01')
    assert_one_error(r)
    assert 'over the' in r.stderr
    assert not (tmp_path / 'dest').exists() or list((tmp_path / 'dest').iterdir()) == []


@pytest.mark.long
@pytest.mark.skipif(not (SHARED / 'cifar-10-batches-py').is_dir(), reason=f"no full CIFAR-10 at {SHARED}")
def test_full_cifar10(tmp_path):
    "make + unpack of the real CIFAR-10: byte-exact, arrays pass the content hashes, each pack <= 38 MiB"
    t = time.time()
    r = ok(packs_cli('make', SHARED, tmp_path / 'packs'))
    print(r.stdout, f"make {time.time() - t:.1f} s")
    sizes = {p: (tmp_path / 'packs' / p).stat().st_size for p in PACKS}
    assert all(s <= 38 * MiB for s in sizes.values()), sizes
    t = time.time()
    r = ok(packs_cli('unpack', tmp_path / 'packs', tmp_path / 'cache'))
    print(r.stdout, f"unpack {time.time() - t:.1f} s")
    if 'cannot import bn_robust' not in r.stderr: assert 'CIFAR-10 content hashes ok' in r.stdout
    same_files(SHARED / 'cifar-10-batches-py', tmp_path / 'cache' / 'cifar-10-batches-py')
    r = ok(packs_cli('unpack', tmp_path / 'packs', tmp_path / 'cache'))
    assert 'nothing to do' in r.stdout
    if 'cannot import bn_robust' not in r.stderr:  # a restored folder is accepted without the packs
        (tmp_path / 'empty').mkdir()
        assert 'nothing to do' in ok(packs_cli('unpack', tmp_path / 'empty', tmp_path / 'cache')).stdout

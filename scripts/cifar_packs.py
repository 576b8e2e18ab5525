#!/usr/bin/env python3
"""Pack the full CIFAR-10 (python version) into three files of at most 38 MiB each, and restore it byte-exact.

    python scripts/cifar_packs.py make SRC DEST          # SRC holds cifar-10-batches-py/ (or is that folder)
    python scripts/cifar_packs.py unpack PACK_DIR CACHE  # restores CACHE/cifar-10-batches-py/

Why: the data must travel to a remote machine in three calls that carry at most ~38 MiB each; the raw files are
176 MiB and zlib barely shrinks them, while lossless WebP stores the pixels in about 56% of their raw size.

Packs: cifar10-pack-1.bin (data_batch_1, data_batch_2), cifar10-pack-2.bin (data_batch_3, data_batch_4),
cifar10-pack-3.bin (data_batch_5, test_batch, batches.meta).

How a batch file is stored: the `data` array's raw bytes appear verbatim inside the pickle, so the file is split
into the pickle bytes before that block ("head", zlib), the pixels ("webp": the 32x32 RGB images tiled row by row
into a mosaic of ceil(sqrt(n)) columns, the last row padded with black tiles, encoded as lossless WebP, method 4,
quality 80) and the pickle bytes after it ("tail", zlib). A file that is not such a batch (batches.meta, or a
pickle whose pixels are not found verbatim) is stored whole, zlib-compressed. `make` restores every file from
its pack in memory and compares sha256 before writing anything.

Container format (one pack file):
    bytes 0..7    magic b'CIFARPK1'
    bytes 8..11   n = length of the header, unsigned 32-bit little-endian
    bytes 12..    the header: n bytes of UTF-8 JSON
    then          the blob area: the blobs back to back; the file ends exactly where the last blob ends
Header JSON:
    format      1 (this layout)
    pack, of    this pack's number (1..3) and the number of packs
    set         16 hex digits naming the whole set (sha256 of the names and sha256s of all files), so packs from
                different `make` runs are not mixed
    blob_bytes  length of the blob area
    webp        the encoder settings used (informational)
    files       in order, each: name, size (bytes of the original file), sha256 (of the original file),
                kind ('batch' or 'whole') and blobs {role: {offset, length, sha256}} with offsets into the blob area;
                roles: 'whole' (zlib) for kind 'whole'; 'head', 'tail' (zlib) and 'pixels' (WebP) for kind 'batch',
                which also has images (n) and cols (mosaic columns)

`unpack` reads all three headers first, then restores every file into a temporary folder inside CACHE, checks
each file's sha256 and the arrays (bn_robust.data.read_cifar_folder, the CIFAR-10 content hashes), and only then
renames the folder into place. Errors: one line on stderr starting with `cifar_packs: error:`, exit status 2.
"""
import argparse, hashlib, io, json, math, os, pickle, shutil, struct, sys, tempfile, time, zlib
from pathlib import Path

import numpy as np
from PIL import Image, features

ROOT = Path(__file__).resolve().parents[1]
MAGIC = b'CIFARPK1'
FORMAT = 1
FOLDER = 'cifar-10-batches-py'
PACKS = (('data_batch_1', 'data_batch_2'), ('data_batch_3', 'data_batch_4'),
         ('data_batch_5', 'test_batch', 'batches.meta'))
ALL_FILES = tuple(name for names in PACKS for name in names)
MAX_MIB = 38
# method 4 / quality 80 (Pillow's lossless default effort): method 6 / quality 100 is only 0.4% smaller but 8x slower
WEBP = dict(lossless=True, method=4, quality=80)
WEBP_MAX_SIDE = 16383
TILE = 32
MiB = 1024 * 1024


class PackError(Exception):
    "A problem with the input or the packs, reported as one line."


def pack_name(i: int) -> str:
    "File name of pack `i` (1-based)"
    return f'cifar10-pack-{i}.bin'


def human(n: int) -> str:
    "A byte count in MB, kB or B"
    return f'{n / 1e6:.2f} MB' if n >= 1e6 else f'{n / 1e3:.1f} kB' if n >= 1e3 else f'{n} B'


def sha(b: bytes) -> str:
    "sha256 hex digest of some bytes"
    return hashlib.sha256(b).hexdigest()


# ---------------------------------------------------------------- pixels <-> WebP mosaic

def to_mosaic(rows: np.ndarray) -> tuple:
    "(mosaic HxWx3 uint8, columns) of CIFAR rows (n, 3072: 1024 R, 1024 G, 1024 B)"
    n = len(rows)
    cols = max(1, math.ceil(math.sqrt(n)))
    grid = math.ceil(n / cols)
    if max(cols, grid) * TILE > WEBP_MAX_SIDE: raise PackError(f"{n} images do not fit one WebP image")
    x = np.zeros((grid * cols, TILE, TILE, 3), np.uint8)  # black padding tiles after the last image
    x[:n] = rows.reshape(n, 3, TILE, TILE).transpose(0, 2, 3, 1)
    return x.reshape(grid, cols, TILE, TILE, 3).transpose(0, 2, 1, 3, 4).reshape(grid * TILE, cols * TILE, 3), cols


def from_mosaic(img: np.ndarray, n: int, cols: int) -> np.ndarray:
    "CIFAR rows (n, 3072) from a mosaic made by `to_mosaic`"
    grid = img.shape[0] // TILE
    x = img.reshape(grid, TILE, cols, TILE, 3).transpose(0, 2, 1, 3, 4).reshape(grid * cols, TILE, TILE, 3)[:n]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(n, 3 * TILE * TILE)


def webp_encode(img: np.ndarray) -> bytes:
    "Lossless WebP bytes of an RGB image"
    buf = io.BytesIO()
    Image.fromarray(img, 'RGB').save(buf, 'WEBP', **WEBP)
    return buf.getvalue()


def webp_decode(b: bytes) -> np.ndarray:
    "RGB array of WebP bytes"
    with Image.open(io.BytesIO(b)) as im:
        if im.format != 'WEBP': raise PackError(f"pixel blob is {im.format}, not WebP")
        return np.asarray(im.convert('RGB'))


# ---------------------------------------------------------------- one file <-> blobs

def pixel_block(raw: bytes):
    "(offset, rows) of the `data` array's bytes inside a CIFAR batch pickle, or None if `raw` is not one"
    try: d = pickle.loads(raw, encoding='latin1')
    except Exception: return None
    a = d.get('data') if isinstance(d, dict) else None
    if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 2 or a.shape[1] != 3 * TILE * TILE:
        return None
    if len(a) == 0: return None
    a = np.ascontiguousarray(a)
    at = raw.find(a.tobytes())  # a pickle holds the array's bytes verbatim (py2 str / py3 bytes)
    return None if at < 0 else (at, a)


def split_file(name: str, raw: bytes) -> tuple:
    "(file entry without offsets, {role: blob bytes}) for one original file"
    entry = dict(name=name, size=len(raw), sha256=sha(raw))
    found = pixel_block(raw)
    if found is None:
        return dict(entry, kind='whole'), {'whole': zlib.compress(raw, 9)}
    at, rows = found
    img, cols = to_mosaic(rows)
    blobs = {'head': zlib.compress(raw[:at], 9), 'pixels': webp_encode(img),
             'tail': zlib.compress(raw[at + rows.nbytes:], 9)}
    return dict(entry, kind='batch', images=len(rows), cols=cols), blobs


def join_file(entry: dict, blobs: dict) -> bytes:
    "The original file's bytes from its entry and blobs, sha256-checked"
    name = entry['name']
    try:
        if entry['kind'] == 'whole': raw = zlib.decompress(blobs['whole'])
        elif entry['kind'] == 'batch':
            rows = from_mosaic(webp_decode(blobs['pixels']), entry['images'], entry['cols'])
            raw = zlib.decompress(blobs['head']) + rows.tobytes() + zlib.decompress(blobs['tail'])
        else: raise PackError(f"{name}: unknown kind {entry['kind']!r}")
    except PackError: raise
    except Exception as e: raise PackError(f"{name}: cannot decode ({type(e).__name__}: {e})") from None
    if len(raw) != entry['size'] or sha(raw) != entry['sha256']:
        raise PackError(f"{name}: restored bytes fail the sha256 check ({len(raw)} bytes, expected {entry['size']})")
    return raw


# ---------------------------------------------------------------- pack files

def set_id(entries: list) -> str:
    "16 hex digits naming a whole set of files"
    return sha(''.join(f"{e['name']}:{e['sha256']}\n" for e in sorted(entries, key=lambda e: e['name'])).encode())[:16]


def build_pack(i: int, parts: list, set_name: str) -> bytes:
    "Bytes of pack `i` from [(entry, blobs)]"
    files, area = [], bytearray()
    for entry, blobs in parts:
        placed = {}
        for role, b in blobs.items():
            placed[role] = dict(offset=len(area), length=len(b), sha256=sha(b))
            area += b
        files.append(dict(entry, blobs=placed))
    header = dict(format=FORMAT, pack=i, of=len(PACKS), set=set_name, blob_bytes=len(area), webp=WEBP, files=files)
    h = json.dumps(header, sort_keys=True).encode()
    return MAGIC + struct.pack('<I', len(h)) + h + bytes(area)


def read_header(path: Path) -> tuple:
    "(header, offset of the blob area) of a pack file, checking magic, format and length"
    if not path.is_file(): raise PackError(f"pack missing: {path}")
    size = path.stat().st_size
    with open(path, 'rb') as f:
        start = f.read(12)
        if len(start) < 12 or start[:8] != MAGIC:
            raise PackError(f"not a CIFAR-10 pack (wrong magic bytes): {path}")
        n = struct.unpack('<I', start[8:])[0]
        if n > MiB or 12 + n > size: raise PackError(f"pack truncated or corrupt (header length {n}): {path}")
        try: header = json.loads(f.read(n).decode())
        except Exception: raise PackError(f"pack header unreadable (corrupt?): {path}") from None
    if not isinstance(header, dict) or header.get('format') != FORMAT:
        raise PackError(f"pack format {header.get('format') if isinstance(header, dict) else '?'} "
                        f"is not {FORMAT}: {path}")
    want = 12 + n + header.get('blob_bytes', 0)
    if want != size: raise PackError(f"pack truncated or corrupt ({size} bytes, header says {want}): {path}")
    return header, 12 + n


def read_headers(pack_dir: Path) -> list:
    "[(path, header, blob offset)] of the three packs, checked to form one complete set"
    if not pack_dir.is_dir(): raise PackError(f"pack folder not found: {pack_dir}")
    packs = [(pack_dir / pack_name(i), *read_header(pack_dir / pack_name(i))) for i in range(1, len(PACKS) + 1)]
    for i, (path, h, _) in enumerate(packs, 1):
        if h.get('pack') != i or h.get('of') != len(PACKS): raise PackError(f"{path} says it is pack {h.get('pack')}")
        if h.get('set') != packs[0][1].get('set'):
            raise PackError(f"packs come from different `make` runs: {packs[0][0].name} vs {path.name}")
    names = [e['name'] for _, h, _ in packs for e in h['files']]
    if sorted(names) != sorted(ALL_FILES): raise PackError(f"packs hold {names}, not the {len(ALL_FILES)} CIFAR files")
    return packs


def read_blobs(path: Path, start: int, entry: dict) -> dict:
    "{role: bytes} of one file entry, each blob sha256-checked"
    blobs = {}
    with open(path, 'rb') as f:
        for role, b in entry['blobs'].items():
            f.seek(start + b['offset'])
            data = f.read(b['length'])
            if len(data) != b['length'] or sha(data) != b['sha256']:
                raise PackError(f"pack corrupt: {entry['name']} ({role}) fails its sha256 check in {path}")
            blobs[role] = data
    return blobs


# ---------------------------------------------------------------- make

def source_folder(src: Path) -> Path:
    "The cifar-10-batches-py folder given SRC (that folder or its parent), with all files present"
    if (src / FOLDER).is_dir(): src = src / FOLDER
    if not src.is_dir(): raise PackError(f"source folder not found: {src}")
    missing = [n for n in ALL_FILES if not (src / n).is_file()]
    if missing: raise PackError(f"CIFAR-10 file missing: {src / missing[0]} (SRC must hold {FOLDER}/)")
    return src


def make(src: Path, dest: Path, max_mib: float = MAX_MIB):
    "Write the three packs for the CIFAR-10 folder under `src` into `dest`"
    t0 = time.time()
    if not features.check('webp'): raise PackError("this Pillow has no WebP support")
    src = source_folder(src)
    parts, raw_total = [], 0
    for name in ALL_FILES:
        t = time.time()
        raw = (src / name).read_bytes()
        entry, blobs = split_file(name, raw)
        join_file(entry, blobs)  # prove the round trip before anything is written
        raw_total += len(raw)
        how = ', '.join(f'{r} {human(len(b))}' for r, b in blobs.items())
        print(f"{name}: {human(len(raw))} -> {human(sum(map(len, blobs.values())))} "
              f"({entry['kind']}: {how}) round trip ok, {time.time() - t:.1f} s", flush=True)
        parts.append((entry, blobs))
    set_name = set_id([e for e, _ in parts])
    by_name = {e['name']: (e, b) for e, b in parts}
    packs = [build_pack(i, [by_name[n] for n in names], set_name) for i, names in enumerate(PACKS, 1)]
    for i, p in enumerate(packs, 1):
        if len(p) > max_mib * MiB:
            raise PackError(f"{pack_name(i)} would be {len(p) / MiB:.2f} MiB, over the {max_mib:g} MiB limit")
    write_packs(dest, packs)
    for i, p in enumerate(packs, 1): print(f"{dest / pack_name(i)}: {len(p) / MiB:.2f} MiB")
    packed = sum(map(len, packs))
    print(f"made {len(packs)} packs: raw {raw_total / MiB:.1f} MiB -> packed {packed / MiB:.1f} MiB "
          f"(ratio {packed / raw_total:.3f}) in {time.time() - t0:.1f} s")


def write_packs(dest: Path, packs: list):
    "Write all packs into `dest` via temporary names, so a failure leaves no partial pack behind"
    dest.mkdir(parents=True, exist_ok=True)
    tmps = [dest / f'.{pack_name(i)}.tmp' for i in range(1, len(packs) + 1)]
    try:
        for tmp, p in zip(tmps, packs): tmp.write_bytes(p)
        for i, tmp in enumerate(tmps, 1): os.replace(tmp, dest / pack_name(i))
    finally:
        for tmp in tmps: tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------- unpack

def matches(folder: Path, packs: list) -> bool:
    "Whether `folder` holds every file of the packs with the right sha256"
    for _, h, _ in packs:
        for e in h['files']:
            p = folder / e['name']
            if not p.is_file() or p.stat().st_size != e['size'] or sha(p.read_bytes()) != e['sha256']: return False
    return True


def check_arrays(folder: Path, final: Path, content_check: bool):
    "Read the arrays in `folder` (to become `final`) with bn_robust.data.read_cifar_folder"
    sys.path.insert(0, str(ROOT))
    try: from bn_robust.data import read_cifar_folder, DataError
    except Exception as e:
        print(f"cifar_packs: warning: cannot import bn_robust ({type(e).__name__}: {e}); files are sha256-verified "
              f"but the arrays were not checked with read_cifar_folder", file=sys.stderr)
        return
    try: arrays = read_cifar_folder(folder, check=content_check)
    except DataError as e:  # name the place the user asked for, not the temporary folder that is about to go
        raise PackError(f"array check failed, nothing written: {str(e).replace(str(folder), str(final))}") from None
    what = 'CIFAR-10 content hashes ok' if content_check else 'content hashes not checked'
    print(f"arrays ok: x_train {arrays['x_train'].shape}, x_test {arrays['x_test'].shape} ({what})")


def cifar_ok(folder: Path) -> bool:
    "Whether `folder` holds all files and passes bn_robust's CIFAR-10 content check (False if bn_robust is missing)"
    if any(not (folder / n).is_file() for n in ALL_FILES): return False
    sys.path.insert(0, str(ROOT))
    try:
        from bn_robust.data import read_cifar_folder
        read_cifar_folder(folder, check=True)
        return True
    except Exception: return False


def replace_folder(tmp: Path, final: Path):
    "Rename `tmp` to `final`, moving an existing `final` aside first and deleting it afterwards"
    old = None
    if final.exists() or final.is_symlink():
        old = final.with_name(f'.{final.name}.old-{os.getpid()}')
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        if old.is_dir() and not old.is_symlink(): shutil.rmtree(old)
        else: old.unlink()


def unpack(pack_dir: Path, cache: Path, content_check: bool = True):
    "Restore CACHE/cifar-10-batches-py from the three packs in `pack_dir`"
    t0 = time.time()
    final = cache / FOLDER
    try: packs = read_headers(pack_dir)
    except PackError as e:
        # a folder restored earlier still counts when the packs are gone, if it passes the CIFAR-10 content hashes
        if content_check and final.is_dir() and cifar_ok(final):
            print(f"{final} passes the CIFAR-10 content check; nothing to do (packs not used: {e})")
            return
        raise
    if final.is_dir():
        if matches(final, packs):
            print(f"{final} already holds all {len(ALL_FILES)} files with the packs' sha256; nothing to do "
                  f"({time.time() - t0:.1f} s)")
            return
        print(f"{final} exists but does not match the packs; restoring it afresh")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{FOLDER}.', dir=cache))
    tmp.chmod(0o755)  # mkdtemp makes it private; the restored folder should read like any other
    try:
        raw_total = 0
        for path, h, start in packs:
            for e in h['files']:
                raw = join_file(e, read_blobs(path, start, e))
                (tmp / e['name']).write_bytes(raw)
                raw_total += len(raw)
                print(f"{e['name']}: {len(raw)} bytes restored from {path.name}, sha256 ok", flush=True)
        check_arrays(tmp, final, content_check)
        replace_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    packed = sum(p.stat().st_size for p, _, _ in packs)
    print(f"restored {final}: packed {packed / MiB:.1f} MiB -> raw {raw_total / MiB:.1f} MiB "
          f"(ratio {packed / raw_total:.3f}) in {time.time() - t0:.1f} s")


# ---------------------------------------------------------------- command line

class Parser(argparse.ArgumentParser):
    "argparse with usage errors as one `cifar_packs: error:` line, exit status 2"
    def error(self, message):
        fail(f"{message} (see --help)")


def fail(message: str):
    "Print one error line on stderr and exit with status 2"
    print(f"cifar_packs: error: {message}", file=sys.stderr)
    sys.exit(2)


def parser() -> argparse.ArgumentParser:
    "The command-line parser"
    p = Parser(prog='cifar_packs', description="Pack CIFAR-10 into three files of at most 38 MiB; restore it "
               "byte-exact. Errors: one line `cifar_packs: error: ...` on stderr, exit status 2.")
    sub = p.add_subparsers(dest='cmd', required=True, parser_class=Parser)
    m = sub.add_parser('make', help="write cifar10-pack-{1,2,3}.bin into DEST")
    m.add_argument('src', type=Path, metavar='SRC', help=f"folder holding {FOLDER}/ (or that folder itself)")
    m.add_argument('dest', type=Path, metavar='DEST', help="folder for the three packs (created if missing)")
    m.add_argument('--max-mib', type=float, default=MAX_MIB, help="largest pack allowed, MiB (default %(default)s)")
    u = sub.add_parser('unpack', help=f"restore CACHE/{FOLDER}/ from the packs in PACK_DIR")
    u.add_argument('pack_dir', type=Path, metavar='PACK_DIR', help="folder holding cifar10-pack-{1,2,3}.bin")
    u.add_argument('cache', type=Path, metavar='CACHE', help=f"folder to hold {FOLDER}/ (created if missing)")
    u.add_argument('--no-content-check', dest='content_check', action='store_false',
                   help="skip the CIFAR-10 content hashes (for test data); files are still sha256-checked")
    return p


def main(argv=None):
    "Run the command line"
    args = parser().parse_args(argv)
    try:
        if args.cmd == 'make': make(args.src, args.dest, args.max_mib)
        else: unpack(args.pack_dir, args.cache, args.content_check)
    except PackError as e: fail(str(e))
    except OSError as e: fail(f"{e.strerror or e}: {e.filename}" if e.filename else str(e))
    except Exception as e: fail(f"{type(e).__name__}: {e}")  # one line, no traceback, whatever went wrong


if __name__ == '__main__':
    main()

"The house rules a newcomer can rely on: small modules, and imports between them that never go in a circle."
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1]/'bn_robust'
MODULES = {p.stem: p for p in PKG.glob('*.py') if p.stem not in ('__init__', '_modidx')}

def imports(path) -> set:
    "The package modules `path` imports, at its top level or inside a function (a deferred import is an import too)"
    out = set()
    for n in ast.walk(ast.parse(path.read_text())):
        if isinstance(n, ast.ImportFrom):
            mod = n.module or ''
            if n.level == 1: out |= {mod.split('.')[0]} if mod else {a.name for a in n.names}
            elif mod.startswith('bn_robust.'): out.add(mod.split('.')[1])
            elif mod == 'bn_robust': out |= {a.name for a in n.names}
        elif isinstance(n, ast.Import):
            out |= {a.name.split('.')[1] for a in n.names if a.name.startswith('bn_robust.')}
    return {m for m in out if m in MODULES}

def test_no_module_over_450_lines():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 450}
    assert not long, long

def test_no_import_cycle():
    graph = {m: imports(p) - {m} for m, p in MODULES.items()}
    state = {}
    def visit(m, path):
        if state.get(m) == 'done': return
        assert state.get(m) != 'open', 'import cycle: ' + ' -> '.join(path[path.index(m):] + [m])
        state[m] = 'open'
        for d in sorted(graph[m]): visit(d, path + [m])
        state[m] = 'done'
    for m in sorted(graph): visit(m, [])

def test_the_cycle_check_sees_a_cycle(tmp_path, monkeypatch):
    "Not vacuous: two modules that import each other (one of them inside a function) are a cycle"
    (tmp_path/'a.py').write_text('from .b import x\n'); (tmp_path/'b.py').write_text('def f():\n    from bn_robust.a import y\n')
    monkeypatch.setitem(globals(), 'MODULES', {'a': tmp_path/'a.py', 'b': tmp_path/'b.py'})
    assert imports(tmp_path/'a.py') == {'b'} and imports(tmp_path/'b.py') == {'a'}
    try: test_no_import_cycle()
    except AssertionError as e: assert 'import cycle: a -> b -> a' in str(e), e
    else: raise AssertionError('the cycle a -> b -> a went unseen')

"The mini profile: a CI-sized mini run, and (slow) the committed mini results against the code."
import json, math
from pathlib import Path
import pandas as pd
import pytest

from bn_robust.runs import run_config, ensure_run, RunConfig, PROFILES
from bn_robust.records import load_records
from bn_robust.claims import check_claims
from bn_robust.batch import rerun, format_rerun

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT/'outputs'

@pytest.mark.long
def test_one_mini_run_for_one_epoch(tmp_path):
    "The mini profile's real sizes (width 1/4, the embedded sample, PGD-20 evaluation), one natural epoch"
    cfg = run_config('mini', seed=0, epochs=1)
    rec, status = ensure_run(cfg, tmp_path, 'cpu', progress=False)
    assert status == 'ran' and len(rec['history']) == 1
    assert rec['config']['data'] == 'sample' and rec['config']['width'] == 0.25 and rec['config']['eval_attack']['steps'] == 20
    m = rec['metrics']
    assert 0.1 < m['clean_acc'] < 0.7 and 0 <= m['adv_acc'] <= m['clean_acc']  # one epoch learns something, not everything

def _committed():
    df = load_records(COMMITTED)
    return df[df.profile == 'mini'] if len(df) else df

@pytest.mark.slow
def test_committed_claims_table_matches_the_records():
    df = _committed()
    if df.empty: pytest.skip('no committed mini records')
    want = check_claims(df, 'mini')
    got = pd.read_csv(COMMITTED/'reports'/'claims-mini.csv', index_col='claim', keep_default_na=False)
    assert list(got.index) == list(want.index)
    assert got['verdict'].tolist() == want['verdict'].tolist()
    assert got['ours'].tolist() == want['ours'].tolist()

@pytest.mark.slow
def test_a_committed_mini_run_reproduces(tmp_path):
    "An adversarially trained committed run, again from scratch with the settings its record lists (about 4 min)"
    df = _committed()
    if df.empty: pytest.skip('no committed mini records')
    rec = df[(df.label == 'All_A') & (df.arch == 'resnet18') & (df.norm == 'bn') & df.device_name.str.startswith('cpu')].sort_values('seed').iloc[-1].record
    r = rerun(rec['id'], COMMITTED, tmp_path, 'cpu', progress=False)
    assert r['verdict'] in ('identical', 'within tolerance', 'within the seed spread'), format_rerun(r)

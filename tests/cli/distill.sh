#!/usr/bin/env bash
# Distill-CF and the baseline samplers on N ranks, checked by the numpy
# oracle: the summary's layout, its stored ∞-AE/EASE metrics, the loss at
# the best step; `train --train-on` on the summary; Recoder on it (--recoder).
source "$(dirname "$0")/common.sh"
n=${1:-1}
gen_dataset g 300 200 25
run_mpi "$n" distill --data "$WORK/g.h5" --out "$WORK/s.h5" --budget 16 --samples 6 --steps 60 \
  --log-every 0 --quiet
"$PYTHON" "$ORACLE/distill_check.py" --data "$WORK/g.h5" --summary "$WORK/s.h5"
[ ! -e "$WORK/s.h5.ckpt.h5" ] || fail "the checkpoint of a finished run was left behind"
# The summary as the fit rows of `train`, against the oracle.
grid=1e-5,1e-3,0.1,1,5,50
run_mpi "$n" train --data "$WORK/g.h5" --train-on "$WORK/s.h5" --metrics-json "$WORK/on.json" --quiet
"$PYTHON" "$ORACLE/oracle.py" eval --data "$WORK/g.h5" --model infae --sample-from "$WORK/s.h5" \
  --lambdas $grid --compare "$WORK/on.json" --rtol 1e-9
run_mpi "$n" train --data "$WORK/g.h5" --train-on "$WORK/s.h5" --model ease \
  --metrics-json "$WORK/one.json" --quiet
"$PYTHON" "$ORACLE/oracle.py" eval --data "$WORK/g.h5" --model ease --sample-from "$WORK/s.h5" \
  --compare "$WORK/one.json" --rtol 1e-9
# On the binarized summary: train --binary fits the rows distill_check.py
# checked, and must report the metrics the summary stores for them (to 1e-9:
# the two sum the metrics in another order).
run_mpi "$n" train --data "$WORK/g.h5" --train-on "$WORK/s.h5" --binary --model infae \
  --metrics-json "$WORK/bin.json" --quiet
"$PYTHON" -c "
import h5py, json, sys
got = json.load(open(sys.argv[1]))['test']
g = h5py.File(sys.argv[2], 'r')['metrics/binary_infae']
bad = [k for k in got if 'test_' + k in g.attrs
       and abs(got[k] - g.attrs['test_' + k]) > 1e-9 * max(1.0, abs(got[k]))]
assert not bad, bad" "$WORK/bin.json" "$WORK/s.h5"
# --recoder: Recoder on S and on /binary, stored in the summary; `train
# --train-on --model recoder` (tested against numpy in recoder.sh) must give
# the same best epoch and test metrics (to 1e-9: another summation order).
run_mpi "$n" distill --data "$WORK/g.h5" --out "$WORK/r.h5" --budget 16 --samples 6 --steps 10 \
  --no-ease --recoder --recoder-epochs 60 --metrics-json "$WORK/rs.json" --quiet
for b in "" --binary; do
  run_mpi "$n" train --data "$WORK/g.h5" --train-on "$WORK/r.h5" $b --model recoder --epochs 60 \
    --eval-every 2 --metrics-json "$WORK/r$b.json" --quiet
done
"$PYTHON" -c "
import h5py, json, sys
w = sys.argv[1]
f, summary = h5py.File(w + '/r.h5', 'r'), json.load(open(w + '/rs.json'))
for g, js, own in (('recoder', 'r.json', summary['recoder']),
                   ('binary_recoder', 'r--binary.json', summary['binary']['recoder'])):
    got, a = json.load(open(w + '/' + js)), f['metrics/' + g].attrs
    assert got['best_epoch'] == a['best_epoch'] == own['best_epoch'], (g, got['best_epoch'])
    epochs = list(f['metrics/' + g + '/epochs'][...])
    assert len(epochs) == f['metrics/' + g + '/val'].shape[0] and a['best_epoch'] in epochs, epochs
    assert len(own['test']) == 7, own['test']
    for k, v in own['test'].items():
        assert abs(v - a['test_' + k]) <= 1e-9 * max(1.0, abs(v)), (g, k, v, a['test_' + k])
        assert abs(v - got['test'][k]) <= 1e-9 * max(1.0, abs(v)), (g, k, v, got['test'][k])
assert 'ease' not in f['metrics'] and 'ease' not in summary" "$WORK"
# --select NDCG@10: λ at every validation, the sample kept and patience by
# validation NDCG@10 (distill_check.py: the best step and its λ by that
# metric, step 0's λ against the oracle's).
run_mpi "$n" distill --data "$WORK/g.h5" --out "$WORK/n.h5" --budget 16 --samples 6 --steps 60 \
  --select NDCG@10 --no-ease --log-every 0 --quiet
"$PYTHON" "$ORACLE/distill_check.py" --data "$WORK/g.h5" --summary "$WORK/n.h5"
# Progress lines: ", to step E" is where patience stops the run if
# validation does not improve (the first validation step ≥ best + patience,
# else --steps); the run must stop at the last one announced.
run_mpi "$n" distill --data "$WORK/g.h5" --out "$WORK/e.h5" --budget 16 --samples 6 --steps 400 \
  --patience 50 --no-ease --log-every 5 --checkpoint-every 0 > "$WORK/eta.log" 2>&1
"$PYTHON" -c "
import re, sys
steps, patience = 400, 50
def val(t): return t == 0 or t == steps or (t <= 200 and t % 25 == 0) or (t > 200 and t % 40 == 0)
lines = [l for l in open(sys.argv[1]) if re.search(r'step +\d+/', l) and 'steps/s' in l]
assert len(lines) >= 10, lines
last = None
for l in lines:
    t = int(re.search(r'step +(\d+)/', l).group(1))
    b = re.search(r'best \S+ +[\d.]+ @(\d+)', l)
    end = next((s for s in range(int(b.group(1)) + patience, steps) if val(s)), steps) if b else steps
    e = re.search(r', to step (\d+) in ~[\d.]+ (s|min|h)$', l)
    assert (int(e.group(1)) if e else None) == (end if end > t else None), l
    last = end
stop = re.search(r'no better validation HR@100 for 50 steps', open(sys.argv[1]).read())
assert stop and t == last < steps, (t, last)" "$WORK/eta.log"
# Random batches of real users per step; /binary by each row's expected
# items, and by a threshold on S.
run_mpi "$n" distill --data "$WORK/g.h5" --out "$WORK/b.h5" --budget 16 --samples 6 --steps 30 \
  --batch 100 --no-ease --binary-rule expected --log-every 0 --quiet
"$PYTHON" "$ORACLE/distill_check.py" --data "$WORK/g.h5" --summary "$WORK/b.h5"
run_mpi "$n" distill --data "$WORK/g.h5" --out "$WORK/t.h5" --budget 16 --samples 6 --steps 60 \
  --no-ease --threshold 0.1 --log-every 0 --quiet
"$PYTHON" "$ORACLE/distill_check.py" --data "$WORK/g.h5" --summary "$WORK/t.h5"
"$PYTHON" -c "
import h5py, sys
rules = [h5py.File(sys.argv[k], 'r')['binary'].attrs['rule'] for k in (1, 2, 3, 4)]
assert rules == ['validated', 'validated', 'expected_items', 'threshold'], rules
" "$WORK/s.h5" "$WORK/n.h5" "$WORK/b.h5" "$WORK/t.h5"
# EASE on the summary of μ = 16 < d = 200 users takes its low-rank form,
# 8·(4μd + 2μ² + 2d + 128μ) = 126,080 bytes: with a smaller --memory-limit
# it is skipped with a warning; with a larger one it runs.
for limit in 120K 130K; do
  run_mpi "$n" distill --data "$WORK/g.h5" --out "$WORK/m$limit.h5" --budget 16 --samples 6 \
    --steps 5 --log-every 0 --memory-limit "$limit" --metrics-json "$WORK/m$limit.json" \
    > "$WORK/m$limit.log" 2>&1
done
grep -q "EASE on the summary skipped: it needs 123.12 KiB per rank, above 120.00 KiB" \
  "$WORK/m120K.log" || fail "no warning for EASE above --memory-limit: $(cat "$WORK/m120K.log")"
! grep -q "EASE on the summary skipped" "$WORK/m130K.log" || fail "EASE skipped below the limit"
"$PYTHON" -c "
import json, sys
a, b = (json.load(open(sys.argv[k])) for k in (1, 2))
assert 'ease' not in a and 'infae' in a, sorted(a)
assert 'ease' in b, sorted(b)" "$WORK/m120K.json" "$WORK/m130K.json"
# Baselines of the same budget.
for s in random head; do
  # (EASE on 16 binary rows ties most scores exactly, below the oracle's
  # tie ranges: it is checked on the continuous summary above.)
  run_mpi "$n" distill --data "$WORK/g.h5" --out "$WORK/$s.h5" --budget 16 --sampler $s \
    --no-ease --quiet
  "$PYTHON" "$ORACLE/distill_check.py" --data "$WORK/g.h5" --summary "$WORK/$s.h5"
done
# A /binary rule of the logits, asked of a sampler without them: a warning,
# and S's ones as /binary.
run_mpi "$n" distill --data "$WORK/g.h5" --out "$WORK/rr.h5" --budget 16 --sampler random \
  --binary-rule expected --no-ease --quiet > "$WORK/rr.log" 2>&1
grep -q "binary-rule expected needs logits (--sampler distill): the random sampler's /binary keeps S's ones" \
  "$WORK/rr.log" || fail "no warning for --binary-rule without logits: $(cat "$WORK/rr.log")"
"$PYTHON" "$ORACLE/distill_check.py" --data "$WORK/g.h5" --summary "$WORK/rr.h5"

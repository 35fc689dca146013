#!/usr/bin/env bash
# Bad input: one clear message (once, not per rank), a non-zero exit, no
# hang, and no output or temporary file left behind.
source "$(dirname "$0")/common.sh"
cd "$WORK"

prep() { local fmt=$1 file=$2; shift 2; echo prepare --format "$fmt" --input "$file" --output out.h5 "$@"; }

# A valid body to which each case appends one bad line at line 10.
for u in 1 2 3; do for i in 1 2 3; do echo "$u::$i::5::0"; done; done > ml_ok.dat
{ cat ml_ok.dat; echo "4::5::3"; } > ml_fields.dat
{ cat ml_ok.dat; echo "x4::5::3::0"; } > ml_id.dat
{ cat ml_ok.dat; echo "99999999999999999999::5::3::0"; } > ml_absurd.dat
{ cat ml_ok.dat; echo "4::-5::3::0"; } > ml_negative.dat
expect_error "ml_fields.dat:10: expected 'user::item::rating::timestamp'" $(prep movielens ml_fields.dat)
expect_error "ml_id.dat:10:" $(prep movielens ml_id.dat)
expect_error "ml_absurd.dat:10:" $(prep movielens ml_absurd.dat)
expect_error "ml_negative.dat:10:" $(prep movielens ml_negative.dat)

for u in 1 2 3; do for i in 1 2 3; do printf '%s\t%s\t5\t0\n' $u $i; done; done > tsv_ok.tsv
{ cat tsv_ok.tsv; echo "17"; } > tsv_short.tsv
expect_error "tsv_short.tsv:10: expected" $(prep tsv tsv_short.tsv)
{ cat tsv_ok.tsv; printf '4\t\t5\t0\n'; } > tsv_tab_empty.tsv
expect_error "tsv_tab_empty.tsv:10:" $(prep tsv tsv_tab_empty.tsv --sep tab)

{ cat tsv_ok.tsv; printf '4\t\xe9t\xe9\t5\t0\n'; } > tsv_latin1.tsv
expect_error "tsv_latin1.tsv:10: the item id is not UTF-8 text" $(prep tsv tsv_latin1.tsv)
{ cat tsv_ok.tsv; printf '\xed\xa0\x80\t1\t5\t0\n'; } > tsv_surrogate.tsv
expect_error "tsv_surrogate.tsv:10: the user id is not UTF-8 text" $(prep tsv tsv_surrogate.tsv)
{ cat tsv_ok.tsv; printf '4\t\xc3\xa9t\xc3\xa9\t5\t0\n'; } > tsv_utf8.tsv
run_mpi 1 prepare --format tsv --input tsv_utf8.tsv --output utf8.h5 --quiet
"$PYTHON" -c "import h5py,sys; ids=list(h5py.File('utf8.h5')['items/ids'].asstr()[...]); sys.exit('été' not in ids)" \
  || fail "a UTF-8 item id was not stored as UTF-8"
for u in 1 2 3; do for i in 1 2 3; do echo "$i,$u,5,0"; done; done > csv_ok.csv
{ cat csv_ok.csv; echo "7;8;5;0"; } > csv_semicolon.csv
expect_error "csv_semicolon.csv:10: expected comma-separated" \
  $(prep csv csv_semicolon.csv --user-col 2 --item-col 1)
expect_error "--user-col and --item-col must be distinct" \
  $(prep csv csv_ok.csv --user-col 2 --item-col 2)

printf '1,5,2005-01-01\n' > nf_noheader.txt
expect_error "nf_noheader.txt:1: expected a 'movieid:' line first" $(prep netflix nf_noheader.txt)
printf '1:\n1,5,2005-01-01\n12a:\n' > nf_badheader.txt
expect_error "nf_badheader.txt:3: bad movie header" $(prep netflix nf_badheader.txt)
printf '1:\n1,5,2005-01-01\n2,5\n' > nf_fields.txt
expect_error "nf_fields.txt:3: expected 'user,rating,date'" $(prep netflix nf_fields.txt)
mkdir -p nf_empty_dir
expect_error "holds no mv_*.txt or combined_data_*.txt" $(prep netflix nf_empty_dir)

printf 'user\titem\tsplit\n1\t1\t0\n1\t2\t3\n' > split_bad.tsv
expect_error "split_bad.tsv:3: expected 'user item split'" $(prep split-tsv split_bad.tsv)
printf 'user\titem\tsplit\n1\t1\t0\n1\t2\t2\n' > split_ok.tsv
printf 'user\titem\n9\t1\n' > neg_unknown.tsv
expect_error "neg_unknown.tsv:2: user '9' is not in the split" \
  $(prep split-tsv split_ok.tsv) --negatives neg_unknown.tsv
expect_error "--negatives FILE is only for --format split-tsv" \
  $(prep movielens ml_ok.dat) --negatives neg_unknown.tsv

for fmt in movielens tsv csv netflix split-tsv; do
  : > "empty_$fmt.txt"
  expect_error "no interactions" $(prep "$fmt" "empty_$fmt.txt")
done
printf '1::1::5::0\n1::2::5::0\n2::1::5::0\n' > small_users.dat
expect_error "no user has at least 3 interactions" $(prep movielens small_users.dat)
expect_error "cannot read /nonexistent/ratings.dat" $(prep movielens /nonexistent/ratings.dat)
expect_error "--format must be movielens" $(prep parquet ml_ok.dat)
expect_error "--output is required" prepare --format movielens --input ml_ok.dat
expect_error "--output no-such-dir/out.h5: the folder no-such-dir does not exist" \
  prepare --format movielens --input ml_ok.dat --output no-such-dir/out.h5

# train: wrong files and options
run_mpi 1 prepare --format movielens --input ml_ok.dat --output good.h5 --quiet
expect_error "is not an HDF5 file" train --data ml_ok.dat --metrics-json out.json
expect_error "cannot read missing.h5" train --data missing.h5 --metrics-json out.json
"$PYTHON" -c "import h5py; h5py.File('alien.h5', 'w').create_dataset('x', data=[1])"
expect_error "attribute 'format' missing" train --data alien.h5 --metrics-json out.json
expect_error "--model must be infae, ease, recoder or pop" train --data good.h5 --model svd
expect_error "--lambdas expects a number" train --data good.h5 --lambdas 1,x
expect_error "unknown option '--lamdas'" train --data good.h5 --lamdas 1
expect_error "unknown command 'trian'" trian --data good.h5
# ∞-AE: good.h5's three users have identical rows, so K is singular.
expect_error "not positive definite for λ = 0" train --data good.h5 --lambdas 0 --out out.h5
expect_error "above the limit of" train --data good.h5 --memory-limit 64 --out out.h5
expect_error "--memory-limit: expected a size" train --data good.h5 --memory-limit lots
expect_error "a 3x1 process grid needs 3 ranks" train --data good.h5 --grid 3x1
expect_error "--grid must be ROWSxCOLS" train --data good.h5 --grid 2by1
expect_error "--precision must be fp64 or fp32" train --data good.h5 --precision fp16
expect_error "--centers and --train-users exclude each other" train --data good.h5 --centers 5 \
  --train-users 5 --out out.h5
expect_error "--centers is for ∞-AE" train --data good.h5 --model ease --centers 5
expect_error "--train-users, --centers, --eval-block and --seed ≥ 0" train --data good.h5 --centers -3
expect_error "--train-users, --centers, --eval-block and --seed ≥ 0" train --data good.h5 --eval-block -1
expect_error "--device must be auto, cpu or cuda (got 'gpu')" train --data good.h5 --device gpu
if ! "$INFAE" --version | grep -q "GPU(s)"; then
  expect_error "--device cuda: " train --data good.h5 --device cuda
fi
# --gpus: one rank, the exact fit, ∞-AE on the train split, and GPUs (or --device cpu).
expect_error "--gpus 2 drives the GPUs of one node from one rank" train --data good.h5 --gpus 2 \
  --device cpu --out out.h5
expect_error "--gpus must be between 0 and 16 (got 17)" train --data good.h5 --gpus 17
expect_error "--gpus is for ∞-AE on the train split" train --data good.h5 --model ease --gpus 2
EXPECT_RANKS=1 expect_error "--gpus applies to the exact fit" train --data good.h5 --gpus 2 \
  --device cpu --train-users 1 --out out.h5
if ! "$INFAE" --version | grep -q "GPU(s)"; then
  EXPECT_RANKS=1 expect_error "--gpus 2: no GPU is visible" train --data good.h5 --gpus 2 \
    --metrics-json out.json
fi
expect_error "--out writes ∞-AE, EASE and Recoder models" train --data good.h5 --model pop \
  --out out.h5
expect_error "--hidden widths must be whole numbers" train --data good.h5 --model recoder \
  --hidden 20,0 --out out.h5
expect_error "--dropout must be in [0, 1)" train --data good.h5 --model recoder --dropout 1 \
  --out out.h5
expect_error "--activation must be tanh, relu, sigmoid or identity" train --data good.h5 \
  --model recoder --activation gelu
expect_error "--loss must be mse or softmax" train --data good.h5 --model recoder --loss bpr
expect_error "raise --eval-every" train --data good.h5 --model recoder --epochs 100 --out out.h5
expect_error "--train-users is for ∞-AE" train --data good.h5 --model recoder --train-users 3
expect_error "--samplers takes random, head, interactions and distill (got 'svp')" study \
  --data good.h5 --out-dir st --samplers random,svp
expect_error "--models takes infae, ease and recoder (got 'mvae')" study --data good.h5 \
  --out-dir st --models mvae
expect_error "--noise levels are percentages in [0, 100] (got 120)" study --data good.h5 \
  --out-dir st --budgets 2 --noise 0,120
expect_error "no --budgets at most the" study --data good.h5 --out-dir st --budgets 100000
expect_error "--grid 2x2 needs --np 4" plan --data good.h5 --np 3 --grid 2x2
expect_error "EXCEEDS" plan --data good.h5 --memory-limit 64
# recommend: a dataset instead of a model, a missing model, malformed users
expect_error "not 'infae-model'" recommend --model good.h5 --input ml_ok.dat
expect_error "cannot read missing.h5" recommend --model missing.h5 --input ml_ok.dat
run_mpi 1 train --data good.h5 --lambdas 1 --out model.h5 --quiet
printf '7 1\n7 2 3\n' > users_bad.tsv
expect_error "users_bad.tsv:2: expected \`user item\`" recommend --model model.h5 \
  --input users_bad.tsv --output out.json
: > users_empty.tsv
expect_error "no \`user item\` lines" recommend --model model.h5 --input users_empty.tsv
expect_error "-k must be ≥ 1" recommend --model model.h5 --input ml_ok.dat -k 0
# distill: options, a checkpoint to resume that is missing or does not match,
# summaries that are not summaries or belong to another dataset
expect_error "--out is required" distill --data good.h5
expect_error "--sampler must be distill, random, head or interactions" distill --data good.h5 --out out.h5 \
  --sampler best
expect_error "--budget must be ≥ 1" distill --data good.h5 --out out.h5 --budget 0
expect_error "--device must be auto, cpu or cuda (got 'gpu')" distill --data good.h5 --out out.h5 \
  --device gpu
expect_error "--tau must be > 0" distill --data good.h5 --out out.h5 --tau 0
expect_error "--recoder-epochs must be ≥ 1 (got 0)" distill --data good.h5 --out out.h5 --recoder \
  --recoder-epochs 0
expect_error "λ values must be > 0" distill --data good.h5 --out out.h5 --lambdas 0,1
expect_error "--select: 'AUC' is not a selection metric (HR@100 or NDCG@10)" distill \
  --data good.h5 --out out.h5 --select AUC
expect_error "--threshold must be in (0, 1]" distill --data good.h5 --out out.h5 --threshold 2
expect_error "--binary-rule must be validated, expected or threshold (got 'top')" distill \
  --data good.h5 --out out.h5 --binary-rule top
expect_error "--threshold goes with --binary-rule threshold (got --binary-rule expected)" distill \
  --data good.h5 --out out.h5 --binary-rule expected --threshold 0.5
expect_error "--binary needs --train-on" train --data good.h5 --binary
expect_error "no validation interactions" distill --data good.h5 --out out.h5
for seed in 9 10; do
  run_mpi 1 generate --users 30 --items 40 --mean-items 5 --seed $seed --output g$seed.dat --quiet
  run_mpi 1 prepare --format movielens --input g$seed.dat --output g$seed.h5 --quiet
done
run_mpi 2 distill --data g9.h5 --out sum.h5 --budget 3 --samples 2 --steps 4 --quiet
if ! "$INFAE" --version | grep -q "GPU(s)"; then
  expect_error "--device cuda: " distill --data g9.h5 --out out.h5 --steps 2 --device cuda
fi
expect_error "cannot open the checkpoint" distill --data g9.h5 --out out.h5 --resume
# An interrupted run's checkpoint (ck.h5) refuses a resume with other options.
interrupted_distill ck.h5 --data g9.h5 --out ck_out.h5 --budget 3 --samples 2
expect_error "checkpoint has learning_rate" distill --data g9.h5 --out out.h5 --budget 3 \
  --samples 2 --steps 4 --lr 0.1 --checkpoint ck.h5 --resume
expect_error "checkpoint selects by HR@100, this run by NDCG@10" distill --data g9.h5 \
  --out out.h5 --budget 3 --samples 2 --steps 100000 --patience 100000 --select ndcg@10 \
  --checkpoint ck.h5 --resume
expect_error "checkpoint of another dataset" distill --data g10.h5 --out out.h5 --budget 3 \
  --samples 2 --steps 4 --checkpoint ck.h5 --resume
expect_error "not 'infae-summary'" train --data good.h5 --train-on good.h5
expect_error "--train-on fits ∞-AE, EASE or Recoder" train --data g9.h5 --train-on sum.h5 --model pop
expect_error "a summary of another dataset?" train --data good.h5 --train-on sum.h5
# A summary with values outside [0, 1] is refused, naming the first one, for every model.
for bad in nan inf -0.5 1.5; do
  cp sum.h5 "bad_$bad.h5"
  "$PYTHON" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); s=f['S'][...]; s[2,7]=float(sys.argv[2]); f['S'][...]=s" \
    "bad_$bad.h5" "$bad"
  for m in infae ease recoder; do
    expect_error "bad_$bad.h5: S[2, 7] (row, column from 0; item '" train --data g9.h5 \
      --train-on "bad_$bad.h5" --model "$m"
  done
done
# A summary whose /hyper depth is out of range is refused before any fit.
cp sum.h5 bad_depth.h5
"$PYTHON" -c "import h5py,sys; h5py.File(sys.argv[1],'r+')['hyper'].attrs['depth']=0" bad_depth.h5
expect_error "bad_depth.h5: attribute depth = 0 is not in [1, 16]" train --data g9.h5 \
  --train-on bad_depth.h5
echo "bad_input: $cases cases passed"

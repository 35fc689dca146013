#!/usr/bin/env bash
# Checks and times a CUDA build on a GPU node, from the source tree and a
# bundle of the build (scripts/bundle.sh) or a build directory:
#   ops    the CUDA backend, cusolverMg and Distill-CF's device step against
#          the CPU (test_backend_cuda on 1 and 2 ranks, test_multidev cuda,
#          test_distill_be cuda, test_summa cuda and test_dmat cuda on 1 and
#          2 ranks; test_distill_be cuda with the NTK of depth 2)
#   sanitize  test_backend_cuda, test_distill_be cuda and test_summa cuda on one
#          rank under compute-sanitizer's memcheck (not a default step), each
#          bounded to SANITIZE_S seconds (default 150)
#   cli    tests/cli/gpu_infae.sh, gpu_distill.sh and gpu_recoder.sh (train,
#          distill and Recoder with --device cuda against --device cpu)
#   ref    scripts/gpu_reference.sh on the reference ML-100K split in REF
#          (default: devdata/ml-100k in the source tree, a copy of
#          ../shared/reference/ml-100k): cuda against cpu and the reference
#   bench  tests/bench/gpu_bench.sh (BENCH_DEVICES, default "cuda mg"), and
#          summa_bench cuda (order 20,000: the product with 6,000 columns and
#          an inner 4,000, the factor, the solve with 6,000 right-hand sides,
#          Nyström with 4,000 centers; fp32 and fp64)
#   scale  (not a default step) full Netflix's shape (tests/bench/prepare_scale.sh
#          into SCALE_WORK, default /tmp/infae_scale), then Nyström ∞-AE with
#          24,000 centers on one GPU, fp32, every user scored (train
#          --metrics-json scale.json into LOGS), bounded to SCALE_S seconds
#          (default 420)
#   grid   (not a default step) Distill-CF's searched summary on the
#          ML-1M-sized set (tests/bench/distill_grid.sh: τ GRID_TAUS, default
#          2,3, × c_card GRID_CARDS, default 1e-3,10, × γ GRID_GAMMAS, default
#          200,500,700; μ 500, 1000 steps,
#          patience 150, Recoder) on one GPU, chosen
#          by GRID_SELECT (default NDCG@10) in GRID_WORK (default
#          /tmp/infae_grid), stopped with its checkpoint after GRID_S seconds
#          (default 540; rc 3); the same step goes on from there
# Logs go to LOGS (default ./gpu_check_logs), one per step, and a summary
# line per step to stdout; with LOGS_TAR, all of them are also packed into
# that .tar.gz after every step (one file to fetch, there even if the run is
# stopped midway).
# Usage: scripts/gpu_check.sh BUNDLE.tar.xz|BUILD_DIR [ops] [sanitize] [cli] [ref] [bench] [scale] [grid]
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
what=${1:?bundle (.tar.xz) or build dir}
shift
steps=${*:-ops cli ref bench}
logs=${LOGS:-$PWD/gpu_check_logs}
mkdir -p "$logs"
if [ -f "$what" ]; then
  b=$(mktemp -d "${TMPDIR:-/tmp}/infae-bundle.XXXXXX")
  tar xf "$what" -C "$b"
  # shellcheck disable=SC1091
  source "$b/env.sh"
  bin="$b/bin"
  tests="$b/bin"
else
  what=$(cd "$what" && pwd)
  bin="$what/src"
  tests="$what/tests"
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_rmaps_base_oversubscribe=1
mpiexec=$(command -v mpiexec)
python=${PYTHON:-$(command -v python3)}
smi=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true)
echo "${smi:-nvidia-smi lists no GPU}"
"$bin/infae_mpi" --version

step() { # step NAME COMMAND...: run, log, one line of result
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  "$@" > "$logs/$name.log" 2>&1
  rc=$?
  local note
  note=$(grep -E 'FAIL|rror' "$logs/$name.log" | head -1)
  # A GPU test that skips although nvidia-smi lists a GPU did not run: say so.
  [ "$rc" != 77 ] || [ -z "$smi" ] || note="SKIPPED although nvidia-smi lists a GPU: $(tail -1 "$logs/$name.log")"
  printf '%-26s rc=%-3s %4s s  %s\n' "$name" "$rc" "$(($(date +%s) - t0))" "$note"
  [ -z "${LOGS_TAR:-}" ] || tar czf "$LOGS_TAR" -C "$logs" .
}

for s in $steps; do
  case $s in
    ops)
      for n in 1 2; do step "backend_cuda_np$n" "$mpiexec" -n $n "$tests/test_backend_cuda"; done
      step multidev_cuda "$mpiexec" -n 1 "$tests/test_multidev" cuda
      for n in 1 2; do step "distill_be_cuda_np$n" "$mpiexec" -n $n "$tests/test_distill_be" cuda; done
      step distill_be_cuda_depth2 "$mpiexec" -n 1 "$tests/test_distill_be" cuda 2
      for n in 1 2; do step "summa_cuda_np$n" "$mpiexec" -n $n "$tests/test_summa" cuda; done
      for n in 1 2; do step "dmat_cuda_np$n" "$mpiexec" -n $n "$tests/test_dmat" cuda; done
      ;;
    sanitize)
      cs=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
      for t in test_backend_cuda "test_distill_be cuda" "test_summa cuda"; do
        # shellcheck disable=SC2086
        step "memcheck_${t%% *}" timeout "${SANITIZE_S:-150}" "$mpiexec" -n 1 "$cs" \
          --tool memcheck --error-exitcode 9 --leak-check no $tests/$t
      done
      ;;
    cli)
      for t in gpu_infae gpu_distill gpu_recoder; do
        step "$t" env INFAE="$bin/infae_mpi" MPIEXEC="$mpiexec" PYTHON="$python" SRC="$src" \
          OPENBLAS_NUM_THREADS="$(nproc)" bash "$src/tests/cli/$t.sh"
      done
      ;;
    ref)
      step reference env INFAE="$bin/infae_mpi" MPIEXEC="$mpiexec" PYTHON="$python" \
        OPENBLAS_NUM_THREADS="$(nproc)" bash "$src/scripts/gpu_reference.sh" \
        "${REF:-$src/devdata/ml-100k}"
      ;;
    bench)
      step gpu_bench env INFAE="$bin/infae_mpi" DEVICES="${BENCH_DEVICES:-cuda mg}" \
        bash "$src/tests/bench/gpu_bench.sh" "" "${BENCH_WORK:-/tmp/infae_bench}"
      tail -n 20 "$logs/gpu_bench.log"
      # One rank with every core's thread: mpiexec would bind it to one core.
      for p in fp32 fp64; do
        step "summa_bench_$p" env OPENBLAS_NUM_THREADS="$(nproc)" "$mpiexec" --bind-to none -n 1 \
          "$tests/summa_bench" cuda 20000 6000 4000 256 $p
        cat "$logs/summa_bench_$p.log"
      done
      ;;
    scale)
      sw=${SCALE_WORK:-/tmp/infae_scale}
      [ -f "$sw/scale.h5" ] || step scale_prepare env INFAE="$bin/infae_mpi" \
        bash "$src/tests/bench/prepare_scale.sh" "$(dirname "$bin")" "$sw"
      step scale_nystrom_24000 timeout "${SCALE_S:-420}" "$mpiexec" -n 1 "$bin/infae_mpi" train \
        --data "$sw/scale.h5" --device cuda --centers 24000 --precision fp32 \
        --metrics-json "$logs/scale.json"
      tail -n 12 "$logs/scale_nystrom_24000.log"
      ;;
    grid)
      # timeout signals env's exec of bash, whose trap hands SIGUSR1 to mpirun.
      step grid timeout --preserve-status -s USR1 -k 60 "${GRID_S:-540}" env INFAE="$bin/infae_mpi" \
        bash "$src/tests/bench/distill_grid.sh" "" "${GRID_WORK:-/tmp/infae_grid}" \
        "${GRID_SELECT:-NDCG@10}" "${GRID_TAUS:-2,3}" "${GRID_GAMMAS:-200,500,700}" 1 \
        "${GRID_CARDS:-1e-3,10}"
      tail -n 12 "$logs/grid.log"
      ;;
    *) echo "unknown step $s (ops, sanitize, cli, ref, bench, scale, grid)" >&2 ;;
  esac
done

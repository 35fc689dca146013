#include "infae/infae/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend_impl.h"
#include "infae/core/log.h"
#include "infae/dist/grid.h"
#include "infae/dist/summa.h"

ia_status ia_parse_bytes(const char *opt, const char *text, int64_t *bytes) {
  char *end = NULL;
  double v = text ? strtod(text, &end) : -1;
  IA_CHECK(text && end != text && v > 0, IA_ERR_ARG,
           "--%s: expected a size such as 8G, 512M or 1073741824 (got '%s')", opt,
           text ? text : "");
  double unit = 1;
  switch (*end) {
    case 'k':
    case 'K':
      unit = 1024.0;
      end++;
      break;
    case 'm':
    case 'M':
      unit = 1024.0 * 1024;
      end++;
      break;
    case 'g':
    case 'G':
      unit = 1024.0 * 1024 * 1024;
      end++;
      break;
    case 't':
    case 'T':
      unit = 1024.0 * 1024 * 1024 * 1024;
      end++;
      break;
    default:
      break;
  }
  if (*end == 'i' && unit > 1) end++;
  if (*end == 'B' || *end == 'b') end++;
  IA_CHECK(*end == '\0' && v * unit < 9.2e18, IA_ERR_ARG,
           "--%s: expected a size such as 8G, 512M or 1073741824 (got '%s')", opt, text);
  *bytes = (int64_t)(v * unit);
  return IA_OK;
}

static int64_t mem_available(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  long long kb = -1;
  char line[256];
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1) break;
  if (f) fclose(f);
  if (kb > 0) return (int64_t)kb * 1024;
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? (int64_t)pages * page : 0;
}

ia_status ia_memory_per_rank(MPI_Comm comm, int64_t *bytes) {
  MPI_Comm node;
  int local = 1;
  IA_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  MPI_Comm_size(node, &local);
  int64_t avail = mem_available();
  /* The smallest share over the nodes. */
  MPI_Allreduce(MPI_IN_PLACE, &avail, 1, MPI_INT64_T, MPI_MIN, node);
  MPI_Comm_free(&node);
  int64_t share = avail / local;
  MPI_Allreduce(MPI_IN_PLACE, &share, 1, MPI_INT64_T, MPI_MIN, comm);
  *bytes = share;
  return IA_OK;
}

double ia_plan_flops(const ia_infae_plan *p, int lambdas) {
  return p->flops_gram + lambdas * (p->flops_factor + p->flops_solve + p->flops_predict) +
         (lambdas > 1 ? lambdas - 1 : 0) * p->flops_remake + p->flops_test;
}

const char *ia_plan_bytes(double b, char *buf, size_t n) {
  const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int k = 0;
  while (b >= 1024 && k < 5) b /= 1024, k++;
  snprintf(buf, n, k ? "%.2f %s" : "%.0f %s", b, u[k]);
  return buf;
}

void ia_plan_print(const ia_infae_plan *p, int64_t n, int64_t d, int64_t u, int size,
                   ia_precision prec, int lambdas, double rate) {
  char a[32];
  ia_log_info(
      "∞-AE plan: %lld users (%s %lld) × %lld items, %s, %d rank(s) on a %dx%d grid, "
      "%d λ",
      (long long)n, p->nystrom ? "Nyström, centers" : "fit on", (long long)u, (long long)d,
      prec == IA_FP64 ? "fp64" : "fp32", size, p->nprow, p->npcol, lambdas);
  ia_log_info("memory per rank (the largest):");
  ia_log_info("  %s %12s",
              p->nystrom && size == 1         ? "L of K_mm, ΦᵀΦ (in place)     "
              : p->nystrom                    ? "L of K_mm, ΦᵀΦ, its factor    "
              : lambdas > 1 && p->keep_kernel ? "kernel K and its factor       "
              : lambdas > 1                   ? "kernel K (made again per λ)   "
                                              : "kernel K                      ",
              ia_plan_bytes(p->bytes_kernel, a, sizeof a));
  ia_log_info("  %s %12s",
              p->nystrom ? "ΦᵀX, α, best α                " : "X/α, best α                   ",
              ia_plan_bytes(p->bytes_rhs, a, sizeof a));
  if (p->bytes_cross > 0)
    ia_log_info("  %s %12s",
                p->stream    ? "NTK(C, X) of a block, per use "
                : p->nystrom ? "Φ for all users               "
                             : "NTK(C, X) for all users       ",
                ia_plan_bytes(p->bytes_cross, a, sizeof a));
  ia_log_info("  evaluation block (%6lld users) %11s", (long long)p->eval_block,
              ia_plan_bytes(p->bytes_rows, a, sizeof a));
  ia_log_info("  Gram item panels               %12s", ia_plan_bytes(p->bytes_panels, a, sizeof a));
  if (p->bytes_summa > 0)
    ia_log_info("  factor/solve/product panels    %12s",
                ia_plan_bytes(p->bytes_summa, a, sizeof a));
  ia_log_info("  dataset rows (CSR)             %12s", ia_plan_bytes(p->bytes_data, a, sizeof a));
  ia_log_info("  total                          %12s", ia_plan_bytes(p->bytes_total, a, sizeof a));
  if (size == 1)
    ia_log_info(
        "GPU memory with --device cuda: %s (K, X/α and the panels there; the "
        "evaluation's buffers come on top)",
        ia_plan_bytes(p->bytes_device, a, sizeof a));
  else
    ia_log_info(
        "GPU memory per rank with --device cuda: %s (the largest array a step keeps "
        "there; a step whose array does not fit runs on the host)",
        ia_plan_bytes(p->bytes_device, a, sizeof a));
  double total = ia_plan_flops(p, lambdas);
  ia_log_info("flops (all ranks):");
  if (p->nystrom)
    ia_log_info("  K_mm, its L, Φ=K_nm·L⁻ᵀ, ΦᵀΦ, ΦᵀX %7.3e", p->flops_gram);
  else if (p->bytes_cross > 0 && !p->stream)
    ia_log_info("  Gram, and NTK(X, X_fit) once   %10.3e", p->flops_gram);
  else
    ia_log_info("  Gram NTK(X, X), lower half     %10.3e", p->flops_gram);
  if (lambdas > 1 && p->flops_remake > 0)
    ia_log_info("  Gram again, %2d × U²d           %10.3e", lambdas - 1,
                (lambdas - 1) * p->flops_remake);
  ia_log_info("  Cholesky, %2d × U³/3            %10.3e", lambdas, lambdas * p->flops_factor);
  ia_log_info("  solve with X, %2d × 2U²d        %10.3e", lambdas, lambdas * p->flops_solve);
  if (p->flops_predict > 0)
    ia_log_info("  %s %10.3e",
                p->stream    ? "validation, NTK(X,X_fit) and ·α"
                : p->nystrom ? "validation Φ·β                "
                             : "validation NTK(X,X_fit)·α     ",
                lambdas * p->flops_predict);
  ia_log_info("  test NTK(C, X) and ·α          %10.3e", p->flops_test);
  ia_log_info("  total                          %10.3e", total);
  char t[48];
  ia_log_info(
      "time at %g GFLOP/s per rank: %s (flop-bound estimate; reading and "
      "evaluation come on top)",
      rate, ia_plan_duration(total / (rate * 1e9 * size), t, sizeof t));
}

const char *ia_plan_duration(double s, char *buf, size_t n) {
  if (s < 60)
    snprintf(buf, n, "%.1f s", s);
  else if (s < 3600)
    snprintf(buf, n, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
  else if (s < 86400 * 3)
    snprintf(buf, n, "%d h %02d min", (int)(s / 3600), (int)fmod(s / 60, 60));
  else
    snprintf(buf, n, "%.1f days", s / 86400);
  return buf;
}

/* CSR bytes of `rows` users' four splits and negatives: 4 bytes per
 * interaction, 50 negatives, 8 bytes of row pointers per split. */
static double data_bytes(double rows, int64_t n, int64_t nnz) {
  return rows * (4.0 * (double)nnz / (double)n * 1.25 + 4.0 * 50 + 5 * 8.0);
}

void ia_ease_plan_make(int64_t n, int64_t d, int64_t nnz, int size, int lambdas, ia_ease_plan *o) {
  double D = (double)d, rows = ceil((double)n / size), m = (double)nnz / (double)n;
  memset(o, 0, sizeof *o);
  o->bytes_gram = 8.0 * D * D;
  o->bytes_weights = 2.0 * 8.0 * D * D;
  o->bytes_eval = 8.0 * 64 * D; /* a block of 64 users' scores */
  o->bytes_data = data_bytes(rows, n, nnz);
  o->bytes_total = o->bytes_gram + o->bytes_weights + o->bytes_eval + o->bytes_data;
  o->flops_gram = (double)n * m * (m + 1) / 2; /* as if every user had the mean count */
  o->flops_fit = D * D * D;                    /* per λ, on every rank */
  o->flops_eval = (double)nnz * D;             /* per λ: a row of B per context item */
  o->flops_test = 1.125 * (double)nnz * D;     /* train + validation contexts */
  o->lambdas = lambdas;
}

void ia_ease_plan_print(const ia_ease_plan *p, int64_t n, int64_t d, int size, double rate) {
  char a[32], t[48];
  ia_log_info("EASE plan: %lld users × %lld items, %d rank(s), %d λ", (long long)n, (long long)d,
              size, p->lambdas);
  ia_log_info("memory per rank (the d × d arrays are on every rank):");
  ia_log_info("  item Gram XᵀX                  %12s", ia_plan_bytes(p->bytes_gram, a, sizeof a));
  ia_log_info("  B and the best λ's B           %12s",
              ia_plan_bytes(p->bytes_weights, a, sizeof a));
  ia_log_info("  scores of a block of users     %12s", ia_plan_bytes(p->bytes_eval, a, sizeof a));
  ia_log_info("  dataset rows (CSR)             %12s", ia_plan_bytes(p->bytes_data, a, sizeof a));
  ia_log_info("  total                          %12s", ia_plan_bytes(p->bytes_total, a, sizeof a));
  ia_log_info("flops:");
  ia_log_info("  Gram XᵀX (adds, all ranks)     %10.3e", p->flops_gram);
  ia_log_info("  inverse, %2d × d³ (each rank)   %10.3e", p->lambdas, p->lambdas * p->flops_fit);
  ia_log_info("  validation, %2d × nnz·d         %10.3e", p->lambdas, p->lambdas * p->flops_eval);
  ia_log_info("  test                           %10.3e", p->flops_test);
  /* The inverse is repeated on every rank; the rest is split. */
  double secs = (p->lambdas * p->flops_fit +
                 (p->flops_gram + p->lambdas * p->flops_eval + p->flops_test) / size) /
                (rate * 1e9);
  ia_log_info("time at %g GFLOP/s per rank: %s (flop-bound estimate)", rate,
              ia_plan_duration(secs, t, sizeof t));
}

double ia_ease_sample_bytes(int64_t mu, int64_t d) {
  double M = (double)mu, D = (double)d;
  return mu < d ? 8.0 * (4.0 * M * D + 2.0 * M * M + 2.0 * D + 128.0 * M) : 8.0 * 3.0 * D * D;
}

void ia_distill_plan_make(int64_t n, int64_t d, int64_t nnz, int size, int64_t mu, int gamma,
                          int64_t batch, int steps, int lambdas, int ease, int binary_candidates,
                          ia_distill_plan *o) {
  double M = (double)mu, D = (double)d, own = ceil(M / size), rows = ceil((double)n / size);
  double b = batch > 0 && batch < n ? (double)batch : (double)n;
  memset(o, 0, sizeof *o);
  /* On every rank: S, the best S and logits, the Gumbel-softmax sums, the
   * sample, dL/dS, Sᵀ, α and the gradient all-reduce buffer (2·μ·d). */
  o->bytes_sample = 8.0 * 10.0 * M * D;
  o->bytes_own = 8.0 * 4.0 * own * D;                /* Z, Adam m and v, dL/dZ of the rank's rows */
  o->bytes_inner = 8.0 * 4.0 * M * M;                /* S·Sᵀ, K, its factor, work */
  o->bytes_blocks = 8.0 * 128.0 * (4.0 * M + D + 1); /* the outer loss, 128 users at a time */
  o->bytes_checkpoint = 8.0 * 3.0 * M * D;           /* rank 0, when it writes */
  o->bytes_ease = ease ? ia_ease_sample_bytes(mu, d) : 0; /* after the steps */
  o->bytes_data = data_bytes(rows, n, nnz);
  o->bytes_total = o->bytes_sample + o->bytes_own + o->bytes_inner + o->bytes_blocks +
                   o->bytes_checkpoint + o->bytes_ease + o->bytes_data;
  /* Per step: the outer loss and its backward on b users (cross Gram from the
   * sparse rows, predictions, two backward products), the inner fit and its
   * backward. */
  o->flops_outer = 2.0 * b * ((double)nnz / (double)n) * M + 6.0 * b * M * D;
  o->flops_inner = 8.0 * M * M * D + 4.0 / 3.0 * M * M * M;
  o->draws_step = 2.0 * gamma * M * D; /* forward, and again in the backward */
  /* λ re-picks at 0, 25, …, 200, every 40 after, and the last step. */
  int picks = 0;
  for (int s = 0; s <= steps; s++)
    picks += (s <= 200 && s % 25 == 0) || (s > 200 && (s - 200) % 40 == 0) || s == steps;
  /* and ∞-AE on the summary, on each candidate of /binary and on /binary after the steps */
  o->validations = picks + 2 + binary_candidates;
  o->binary_candidates = binary_candidates;
  o->flops_validation = lambdas * (M * M * M / 3.0 + 2.0 * M * M * D + 2.0 * (double)n * M * D);
  /* the default grid of 7 λ, and the scores of every user for each */
  /* on the summary and on /binary */
  o->flops_ease =
      !ease    ? 0
      : mu < d ? 2.0 * (7.0 * (M * M * M / 3.0 + M * M * D + 2.0 * (double)n * M * D) + M * M * D)
               : 2.0 * 7.0 * D * D * D;
  o->steps = steps;
}

void ia_distill_plan_print(const ia_distill_plan *p, int64_t n, int64_t d, int64_t mu, int size,
                           double rate) {
  char a[32], t[48];
  ia_log_info(
      "Distill-CF plan: %lld synthetic users from %lld users × %lld items, %d rank(s), "
      "%d steps",
      (long long)mu, (long long)n, (long long)d, size, p->steps);
  ia_log_info("memory per rank:");
  ia_log_info("  S, best S and logits, sums, dL/dS, α %12s",
              ia_plan_bytes(p->bytes_sample, a, sizeof a));
  ia_log_info("  the rank's logits, Adam m, v, dL/dZ  %12s",
              ia_plan_bytes(p->bytes_own, a, sizeof a));
  ia_log_info("  inner μ × μ: S·Sᵀ, K, factor, work   %12s",
              ia_plan_bytes(p->bytes_inner, a, sizeof a));
  ia_log_info("  blocks of 128 users (outer loss)     %12s",
              ia_plan_bytes(p->bytes_blocks, a, sizeof a));
  ia_log_info("  checkpoint gather (rank 0)           %12s",
              ia_plan_bytes(p->bytes_checkpoint, a, sizeof a));
  if (p->bytes_ease > 0)
    ia_log_info("  EASE on the summary (after)          %12s",
                ia_plan_bytes(p->bytes_ease, a, sizeof a));
  ia_log_info("  dataset rows (CSR)                   %12s",
              ia_plan_bytes(p->bytes_data, a, sizeof a));
  ia_log_info("  total                                %12s",
              ia_plan_bytes(p->bytes_total, a, sizeof a));
  double step = p->flops_outer + p->flops_inner * size; /* the inner part runs on every rank */
  ia_log_info("flops (all ranks):");
  ia_log_info("  outer loss and backward, per step             %10.3e", p->flops_outer);
  ia_log_info("  inner fit and backward, per step (each rank)  %10.3e", p->flops_inner);
  ia_log_info("  Gumbel-softmax draws per step                 %10.3e", p->draws_step);
  ia_log_info("  validation, %3d λ grids (re-picks; S, /binary) %10.3e", p->validations,
              p->validations * p->flops_validation);
  if (p->binary_candidates > 0)
    ia_log_info("    of which /binary's %2d candidates            %10.3e", p->binary_candidates,
                p->binary_candidates * p->flops_validation);
  if (p->flops_ease > 0)
    ia_log_info("  EASE on S and on /binary, 2 × 7 λ             %10.3e", p->flops_ease);
  double secs = (p->steps * step + p->validations * p->flops_validation) / (rate * 1e9 * size) +
                p->flops_ease / (rate * 1e9 * (mu < d ? size : 1));
  ia_log_info(
      "time at %g GFLOP/s per rank: %s (flop-bound estimate; the draws, about 20 ns "
      "each on one core, come on top: %s)",
      rate, ia_plan_duration(secs, t, sizeof t),
      ia_plan_duration(p->steps * p->draws_step * 20e-9 / size, a, sizeof a));
}

int64_t ia_infae_eval_block_size(int64_t n, int64_t d, int64_t u, int sampled, int size,
                                 ia_precision p, int64_t eval_block) {
  double es = p == IA_FP64 ? 8.0 : 4.0;
  double per_user = es * (size > 1 ? 3.0 * (double)d + (double)u : (double)d + (sampled ? u : 0));
  /* 512 MiB; on a grid a rank's share of α when that is more: each block's
   * product broadcasts α again, so blocks stay large. */
  double budget = 512.0 * 1048576.0;
  if (size > 1) budget = fmax(budget, es * (double)u * (double)d / size);
  int64_t most = (n + size - 1) / size;
  int64_t b = eval_block > 0 ? eval_block : (int64_t)(budget / per_user);
  return b < 1 ? 1 : b > most ? most : b;
}

void ia_infae_plan_make(int64_t n, int64_t d, int64_t u, int64_t nnz, int size, int nprow,
                        int npcol, int nb, ia_precision p, int keep_kernel, int nystrom, int stream,
                        int64_t panel_bytes, ia_infae_plan *o) {
  memset(o, 0, sizeof *o);
  if (nprow <= 0 || npcol <= 0) ia_grid_shape(size, &nprow, &npcol);
  o->nprow = nprow;
  o->npcol = npcol;
  o->nystrom = nystrom;
  o->keep_kernel = keep_kernel && !nystrom; /* Nyström factors ΦᵀΦ, never K */
  if (panel_bytes <= 0) panel_bytes = 256 << 20;
  double es = p == IA_FP64 ? 8.0 : 4.0;
  int sampled = u < n || nystrom;
  o->stream = sampled && stream;
  /* Process (0, 0) holds the most of every block-cyclic array. */
  double mu = (double)ia_numroc(u, nb, 0, nprow), nu = (double)ia_numroc(u, nb, 0, npcol);
  double mn = (double)ia_numroc(n, nb, 0, nprow), dl = (double)ia_numroc(d, nb, 0, npcol);
  double rows = (double)((n + size - 1) / size);
  double kk = es * mu * nu;
  /* The evaluation's block: B users per rank, size·B rows of its matrices
   * (all users when one block), rank (0, 0) holding mb of them. */
  o->eval_block = ia_infae_eval_block_size(n, d, u, sampled, size, p, 0);
  double bl = (double)o->eval_block;
  int64_t block_rows = o->eval_block * size < n ? o->eval_block * size : n;
  double mb = (double)ia_numroc(block_rows, nb, 0, nprow);
  /* The test kernel NTK(C, X) is n × n over the same buffer when not sampled. */
  /* Nyström: L, ΦᵀΦ and its factor; one rank factors ΦᵀΦ in place. */
  o->bytes_kernel = kk * (nystrom       ? (size == 1 ? 2 : 3)
                          : keep_kernel ? 2
                                        : 1) +
                    (nystrom && size == 1 ? es * u : 0);
  o->bytes_rhs = es * mu * dl * (nystrom ? 3 : 2);
  o->bytes_cross = sampled ? es * (o->stream ? mb : mn) * nu : 0;
  /* On a grid, size·B rows block-cyclic of the predictions (and, without a
   * sample, of α and of NTK(C, X)), and B host rows. */
  if (size > 1) { /* one block gathers nothing: the rows are in place */
    int gather = !sampled && o->eval_block < (n + size - 1) / size;
    o->bytes_rows = es * (mb * (dl + (gather ? dl + nu : 0.0)) + bl * (double)d);
  } else {
    o->bytes_rows = es * bl * (double)d;
  }
  /* The rows NTK(C, X) is made for at once: a block's with a sample, else
   * every user's (the test kernel). */
  double mk = sampled ? mb : mn;
  double wmax = (double)ia_be_panel_width((int64_t)(mk + nu), d, (size_t)es, panel_bytes);
  o->bytes_panels = es * (mk + nu) * wmax;
  /* infae/dist/summa.h on a grid: the widest of its panel sets, nb wide (the
   * factor's panel, block row and the transposed panel's send and receive
   * buffers; the solves' and products' panels), and a diagonal block. */
  if (size > 1) {
    double w = fmax(mu + 3.0 * nu, fmax(mu + dl, mk + fmax(nu, dl)));
    o->bytes_summa = es * ((double)nb * w + (double)nb * nb);
  }
  /* GPU ranks. One rank: K, X/α, NTK(C, X) and the panels, and the FP32
   * Gram tile of fp64 kernels. A grid: infae/dist/summa.h keeps one array on the
   * device per step (ia_summa_fits: the local part, a panel, a diagonal
   * block and a block row); the Gram's tiles are made there a few column
   * blocks at a time (kernel_tiles). */
  if (size == 1) {
    o->bytes_device =
        o->bytes_kernel + o->bytes_rhs + o->bytes_cross + o->bytes_rows + o->bytes_panels;
    if (p == IA_FP64)
      o->bytes_device += 4.0 * (sampled ? mk : (double)u) * (double)ia_be_ntk_stage_cols(u, nb);
  } else {
    int64_t ml = (int64_t)mu, nl = (int64_t)nu, ml_k = (int64_t)mk, dloc = (int64_t)dl;
    double r =
        fmax(ia_summa_resident_bytes(p, ml, nl, nb), ia_summa_resident_bytes(p, ml, dloc, nb));
    if (nystrom)
      r = fmax(r, fmax(ia_summa_resident_bytes(p, ml_k, nl, nb),
                       ia_summa_resident_bytes(p, ml_k, dloc, nb)));
    /* A tile of a few column blocks, its FP16 item panels, its FP32 Gram. */
    double cols = fmin(nu, fmax((double)nb, floor((double)panel_bytes / (es * mk) / nb) * nb));
    double w16 = (double)ia_be_panel_width((int64_t)(mk + cols), d, 2, panel_bytes);
    double tile = es * mk * cols + 2.0 * (mk + cols) * w16 + (p == IA_FP64 ? 4.0 * mk * cols : 0);
    o->bytes_device = fmax(r, tile);
  }
  /* CSR rows: the fit rows of the local blocks, the contexts (without a
   * sample the validation rows of the local blocks over n; with one, a
   * block's train and validation rows), the evaluation's 4 splits of its
   * users, at 4 bytes per interaction (nnz/n per user) + 8 per row. */
  double per_user = 4.0 * (double)nnz / (double)n * 1.25 + 8.0;
  o->bytes_data = per_user * (mu + nu + (sampled ? 2 * mb : mn) + 4 * rows) + 8.0 * (mu + nu);
  o->bytes_total = o->bytes_kernel + o->bytes_rhs + o->bytes_cross + o->bytes_rows +
                   o->bytes_panels + o->bytes_summa + o->bytes_data;
  double U = (double)u, N = (double)n, D = (double)d;
  o->flops_gram = U * U * D; /* lower triangle of 2·U²·d */
  /* A kept NTK(X_all, X_fit) is made once; Nyström: Cholesky of K_mm, Φ =
   * K_nm·L⁻ᵀ, ΦᵀΦ, ΦᵀX. */
  if (sampled && (nystrom || !o->stream)) o->flops_gram += 2.0 * N * U * D;
  if (nystrom) o->flops_gram += U * U * U / 3.0 + 2.0 * N * U * U + N * U * U + 2.0 * N * U * D;
  o->flops_factor = U * U * U / 3.0; /* per λ */
  o->flops_solve = 2.0 * U * U * D;  /* per λ */
  /* Per λ: P = NTK(C, X_fit)·α (X − λ'α needs none); made again when
   * streamed (Nyström: with α = L⁻ᵀβ). */
  o->flops_predict = sampled ? 2.0 * N * U * D : 0;
  if (o->stream) o->flops_predict += 2.0 * N * U * D + (nystrom ? U * U * D : 0);
  o->flops_test = 2.0 * N * U * D * 2.0; /* NTK(C, X) and its product with α */
  o->flops_remake = nystrom || keep_kernel ? 0 : U * U * D;
}

void ia_infae_plan_choose(int64_t n, int64_t d, int64_t u, int64_t nnz, int size, int nprow,
                          int npcol, int nb, ia_precision p, int lambdas, int nystrom, double limit,
                          ia_infae_plan *out) {
  /* What does not fit goes, in this order: NTK(C, X) of every user (made
   * again per block and λ), then the copy of K (made again per λ). */
  int keep = lambdas > 1, stream = 0;
  for (int k = 0; k < 3; k++) {
    ia_infae_plan_make(n, d, u, nnz, size, nprow, npcol, nb, p, keep, nystrom, stream, 0, out);
    if (limit <= 0 || out->bytes_total <= limit) return;
    if (!stream && (u < n || nystrom))
      stream = 1;
    else if (keep && !nystrom)
      keep = 0;
    else
      return;
  }
}

void ia_infae_md_bytes(int64_t n, int64_t d, int nb, ia_precision p, int gpus, double *per_device,
                       double *first) {
  double es = p == IA_FP64 ? 8.0 : 4.0, G = gpus > 0 ? gpus : 1, U = (double)n, D = (double)d;
  /* Whole tiles on the device with the most (multidev.c pads the last). */
  double cols = ceil(ceil(U / nb) / G) * nb, xcols = ceil(ceil(D / nb) / G) * nb;
  /* Gram panels, and the test product's part of C and rows of α. */
  double blocks = 4.0 * 256.0 * 1048576.0;
  /* K is remade for each λ, never copied (md_fit). */
  double dev = es * U * cols + es * U * xcols + blocks;
  if (p == IA_FP64) dev += 4.0 * U * (double)ia_be_ntk_stage_cols((int64_t)cols, nb);
  *per_device = dev;
  *first = dev + 256.0 * 1048576.0; /* the sum of the parts */
}

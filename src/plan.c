#include "infae/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "infae/log.h"

ia_status ia_parse_bytes(const char *opt, const char *text, int64_t *bytes) {
  char *end = NULL;
  double v = text ? strtod(text, &end) : -1;
  IA_CHECK(text && end != text && v > 0, IA_ERR_ARG,
           "--%s: expected a size such as 8G, 512M or 1073741824 (got '%s')", opt,
           text ? text : "");
  double unit = 1;
  switch (*end) {
    case 'k': case 'K': unit = 1024.0; end++; break;
    case 'm': case 'M': unit = 1024.0 * 1024; end++; break;
    case 'g': case 'G': unit = 1024.0 * 1024 * 1024; end++; break;
    case 't': case 'T': unit = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
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
         p->flops_test;
}

static const char *human(double b, char *buf, size_t n) {
  const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int k = 0;
  while (b >= 1024 && k < 5) b /= 1024, k++;
  snprintf(buf, n, k ? "%.2f %s" : "%.0f %s", b, u[k]);
  return buf;
}

void ia_plan_print(const ia_infae_plan *p, int64_t n, int64_t d, int64_t u, int size,
                   ia_precision prec, int lambdas, double rate) {
  char a[32];
  ia_log_info("∞-AE plan: %lld users (%s %lld) × %lld items, %s, %d rank(s) on a %dx%d grid, "
              "%d λ",
              (long long)n, p->nystrom ? "Nyström, centers" : "fit on", (long long)u,
              (long long)d, prec == IA_FP64 ? "fp64" : "fp32", size, p->nprow, p->npcol, lambdas);
  ia_log_info("memory per rank (the largest):");
  ia_log_info("  %s %12s",
              p->nystrom     ? "L of K_mm, ΦᵀΦ, its factor    "
              : lambdas > 1 ? "kernel K and its factor       "
                            : "kernel K                      ",
              human(p->bytes_kernel, a, sizeof a));
  ia_log_info("  %s %12s",
              p->nystrom ? "ΦᵀX, α, best α, predictions   "
              : u < n    ? "X/α, best α, predictions      "
                         : "X/α, best α                   ",
              human(p->bytes_rhs, a, sizeof a));
  if (p->bytes_cross > 0)
    ia_log_info("  NTK(C, X) for all users        %12s", human(p->bytes_cross, a, sizeof a));
  ia_log_info("  prediction rows (evaluation)   %12s", human(p->bytes_rows, a, sizeof a));
  ia_log_info("  Gram item panels               %12s", human(p->bytes_panels, a, sizeof a));
  if (p->bytes_summa > 0)
    ia_log_info("  factor/solve/product panels    %12s", human(p->bytes_summa, a, sizeof a));
  ia_log_info("  dataset rows (CSR)             %12s", human(p->bytes_data, a, sizeof a));
  ia_log_info("  total                          %12s", human(p->bytes_total, a, sizeof a));
  if (size == 1)
    ia_log_info("GPU memory with --device cuda: %s (K, X/α and the panels there; the "
                "evaluation's buffers come on top)",
                human(p->bytes_device, a, sizeof a));
  else
    ia_log_info("GPU memory per rank with --device cuda: %s (the largest array a step keeps "
                "there; a step whose array does not fit runs on the host)",
                human(p->bytes_device, a, sizeof a));
  double total = ia_plan_flops(p, lambdas);
  ia_log_info("flops (all ranks):");
  if (p->nystrom)
    ia_log_info("  K_mm, its L, Φ=K_nm·L⁻ᵀ, ΦᵀΦ, ΦᵀX %7.3e", p->flops_gram);
  else
    ia_log_info("  Gram NTK(X, X), lower half     %10.3e", p->flops_gram);
  ia_log_info("  Cholesky, %2d × U³/3            %10.3e", lambdas, lambdas * p->flops_factor);
  ia_log_info("  solve with X, %2d × 2U²d        %10.3e", lambdas, lambdas * p->flops_solve);
  if (p->flops_predict > 0)
    ia_log_info("  validation NTK(X,X_fit)·α      %10.3e", lambdas * p->flops_predict);
  ia_log_info("  test NTK(C, X) and ·α          %10.3e", p->flops_test);
  ia_log_info("  total                          %10.3e", total);
  ia_log_info("time at %.1f GFLOP/s per rank: %.1f s (flop-bound estimate; reading and "
              "evaluation come on top)",
              rate, total / (rate * 1e9 * size));
}

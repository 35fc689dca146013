/* Backend dispatch and the CPU backend (BLAS/LAPACK on host memory). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend_impl.h"
#include "infae/backend/device.h"
#include "infae/core/topk.h"
#include "infae/core/log.h"
#include "infae/core/ntk.h"

struct ia_backend {
  ia_device dev;
  MPI_Comm comm;
  int share; /* ranks of the node on this GPU (1 on the CPU) */
#if IA_HAVE_CUDA
  ia_cuda *cuda;
#endif
};

ia_status ia_device_parse(const char *text, ia_device *out) {
  if (strcmp(text, "auto") == 0)
    *out = IA_DEVICE_AUTO;
  else if (strcmp(text, "cpu") == 0)
    *out = IA_DEVICE_CPU;
  else if (strcmp(text, "cuda") == 0)
    *out = IA_DEVICE_CUDA;
  else
    IA_CHECK(0, IA_ERR_ARG, "--device must be auto, cpu or cuda (got '%s')", text);
  return IA_OK;
}

#if IA_HAVE_CUDA
/* One rank may drive several GPUs (infae/dist/multidev.h): each call first makes
 * the backend's GPU the current one. */
#define CUDA_OR(call, cpu) \
  (b->dev == IA_DEVICE_CUDA ? (ia_cuda_bind(b->cuda), (call)) : (cpu))
#else
#define CUDA_OR(call, cpu) ((void)b, (cpu))
#endif

/* The ranks of this process's node, and its rank among them. */
static ia_status node_comm(MPI_Comm comm, MPI_Comm *node, int *rank) {
  *node = MPI_COMM_NULL;
  IA_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, node));
  IA_MPI(MPI_Comm_rank(*node, rank));
  return IA_OK;
}

#if IA_HAVE_CUDA
/* The ranks of the node on the same physical GPU as this one, by the
 * device's UUID: right whether each rank sees all the node's GPUs or only
 * its own (CUDA_VISIBLE_DEVICES, Slurm's --gpus-per-task). Collective over
 * the node. */
static ia_status gpu_share(MPI_Comm node, const ia_cuda *c, int *share) {
  unsigned char me[16];
  ia_cuda_uuid(c, me);
  int n = 1, rc = MPI_Comm_size(node, &n);
  unsigned char *all = rc == MPI_SUCCESS ? malloc(16 * (size_t)n) : NULL;
  int have = all != NULL; /* every rank of the node gathers, or none */
  if (rc == MPI_SUCCESS) rc = MPI_Allreduce(MPI_IN_PLACE, &have, 1, MPI_INT, MPI_MIN, node);
  if (rc == MPI_SUCCESS && have)
    rc = MPI_Allgather(me, 16, MPI_UNSIGNED_CHAR, all, 16, MPI_UNSIGNED_CHAR, node);
  else
    free(all), all = NULL;
  *share = 0;
  for (int r = 0; all && rc == MPI_SUCCESS && r < n; r++) *share += !memcmp(all + 16 * r, me, 16);
  free(all);
  IA_MPI(rc);
  IA_CHECK(*share > 0, IA_ERR_NOMEM, "cannot gather the node's GPU ids");
  return IA_OK;
}
#endif

ia_status ia_backend_open(MPI_Comm comm, ia_device want, ia_backend **out) {
  ia_backend *b = NULL;
  *out = NULL;
  int lr = 0, size = 1;
  MPI_Comm_size(comm, &size);
  MPI_Comm node;
  ia_status st = ia_agree(comm, node_comm(comm, &node, &lr));
  if (st != IA_OK) {
    if (node != MPI_COMM_NULL) MPI_Comm_free(&node);
    return st;
  }
  st = IA_ZALLOC(b, 1, "backend");
  if (st == IA_OK) {
    b->dev = IA_DEVICE_CPU;
    b->comm = comm;
    b->share = 1;
    int gpus = 0;
#if IA_HAVE_CUDA
    gpus = ia_cuda_device_count();
#endif
    const char *why = ia_cuda_device_error();
    if (want == IA_DEVICE_CUDA && gpus == 0 && !IA_HAVE_CUDA)
      st = ia_error_set(IA_ERR_DEVICE, __FILE__, __LINE__,
                        "--device cuda: this build has no CUDA backend "
                        "(configure with -DINFAE_CUDA=ON)");
    else if (want == IA_DEVICE_CUDA && gpus == 0 && why[0])
      st = ia_error_set(IA_ERR_DEVICE, __FILE__, __LINE__,
                        "--device cuda: no usable GPU on this rank (CUDA: %s)", why);
    else if (want == IA_DEVICE_CUDA && gpus == 0)
      st = ia_error_set(IA_ERR_DEVICE, __FILE__, __LINE__,
                        "--device cuda: no GPU is visible to this rank");
    else if (want == IA_DEVICE_AUTO && gpus == 0 && why[0])
      ia_log_warn("--device auto: no usable GPU (CUDA: %s): running on the CPU", why);
#if IA_HAVE_CUDA
    /* Ranks take the GPUs they see round-robin: GPU lr mod gpus. */
    else if (want != IA_DEVICE_CPU && gpus > 0) {
      st = ia_cuda_open(lr, &b->cuda);
      if (st == IA_OK) b->dev = IA_DEVICE_CUDA;
    }
#endif
  }
  st = ia_agree(comm, st);
  /* Every rank on the same device kind: mixing would change the numerics. */
  if (st == IA_OK) {
    int kinds[2] = {(int)b->dev, -(int)b->dev};
    MPI_Allreduce(MPI_IN_PLACE, kinds, 2, MPI_INT, MPI_MAX, comm);
    if (kinds[0] != -kinds[1])
      st = ia_error_set(IA_ERR_DEVICE, __FILE__, __LINE__,
                        "some ranks see a GPU and others do not: pass --device cpu or give "
                        "every rank a GPU");
    st = ia_agree(comm, st);
  }
#if IA_HAVE_CUDA
  if (st == IA_OK && b->dev == IA_DEVICE_CUDA) st = ia_agree(comm, gpu_share(node, b->cuda, &b->share));
  /* NCCL needs a GPU of its own for every rank. */
  int most = b ? b->share : 1;
  if (st == IA_OK && b->dev == IA_DEVICE_CUDA)
    MPI_Allreduce(MPI_IN_PLACE, &most, 1, MPI_INT, MPI_MAX, comm);
  if (st == IA_OK && b->dev == IA_DEVICE_CUDA && size > 1 && most == 1)
    st = ia_agree(comm, ia_cuda_nccl_init(b->cuda, comm));
#else
  (void)size;
#endif
  MPI_Comm_free(&node);
  if (st != IA_OK) {
    ia_backend_close(&b);
    return st;
  }
  *out = b;
  return IA_OK;
}

ia_status ia_backend_open_index(const ia_backend *like, int index, ia_backend **out) {
  ia_backend *b = NULL;
  *out = NULL;
  IA_CALL(IA_ZALLOC(b, 1, "backend"));
  b->dev = like->dev;
  b->comm = like->comm;
  b->share = 1;
#if IA_HAVE_CUDA
  if (b->dev == IA_DEVICE_CUDA) {
    int gpus = ia_cuda_device_count();
    ia_status st = index < gpus ? IA_OK
                                : ia_error_set(IA_ERR_DEVICE, __FILE__, __LINE__,
                                               "GPU %d asked for, %d visible", index, gpus);
    if (st == IA_OK) st = ia_cuda_open(index, &b->cuda);
    if (st != IA_OK) {
      free(b);
      return st;
    }
  }
#else
  (void)index;
#endif
  *out = b;
  return IA_OK;
}

#if IA_HAVE_CUDA
ia_cuda *ia_backend_cuda(ia_backend *b) { return b->dev == IA_DEVICE_CUDA ? b->cuda : NULL; }
#endif

int ia_backend_index(const ia_backend *b) { return CUDA_OR(ia_cuda_index(b->cuda), 0); }

void ia_backend_close(ia_backend **pb) {
  ia_backend *b = *pb;
  if (!b) return;
#if IA_HAVE_CUDA
  if (b->cuda) {
    ia_cuda_bind(b->cuda);
    ia_cuda_close(b->cuda);
  }
#endif
  free(b);
  *pb = NULL;
}

ia_device ia_backend_device(const ia_backend *b) { return b->dev; }

const char *ia_backend_describe(const ia_backend *b) {
  return CUDA_OR(ia_cuda_describe(b->cuda), "cpu");
}

size_t ia_backend_free_bytes(const ia_backend *b) {
  return CUDA_OR(ia_cuda_free_bytes(b->cuda), SIZE_MAX);
}

int ia_backend_share(const ia_backend *b) { return b->share; }

/* ---- across ranks ---------------------------------------------------------- */

ia_status ia_be_allreduce_sum(ia_backend *b, double *buf, int64_t n) {
  return CUDA_OR(ia_cuda_allreduce_sum(b->cuda, b->comm, buf, n),
                 ia_allreduce_sum(b->comm, buf, n));
}

const char *ia_backend_reduce_name(const ia_backend *b) {
  return CUDA_OR(ia_cuda_has_nccl(b->cuda) ? "nccl" : "mpi (staged through the host)", "mpi");
}

/* ---- memory -------------------------------------------------------------- */

ia_status ia_be_alloc(ia_backend *b, size_t bytes, const char *what, void **out) {
  if (bytes == 0) bytes = 1;
  return CUDA_OR(ia_cuda_alloc(b->cuda, bytes, what, out), ia_malloc(bytes, what, out));
}

void ia_be_free(ia_backend *b, void *p) {
  if (!p) return;
#if IA_HAVE_CUDA
  if (b->dev == IA_DEVICE_CUDA) {
    ia_cuda_bind(b->cuda);
    ia_cuda_free(b->cuda, p);
    return;
  }
#else
  (void)b;
#endif
  free(p);
}

static ia_status host_copy(void *dst, const void *src, size_t bytes) {
  if (bytes && dst != src) memmove(dst, src, bytes);
  return IA_OK;
}

ia_status ia_be_upload(ia_backend *b, void *dst, const void *src, size_t bytes) {
  return CUDA_OR(ia_cuda_memcpy(b->cuda, dst, src, bytes, IA_H2D), host_copy(dst, src, bytes));
}

ia_status ia_be_download(ia_backend *b, void *dst, const void *src, size_t bytes) {
  return CUDA_OR(ia_cuda_memcpy(b->cuda, dst, src, bytes, IA_D2H), host_copy(dst, src, bytes));
}

ia_status ia_be_copy(ia_backend *b, void *dst, const void *src, size_t bytes) {
  return CUDA_OR(ia_cuda_memcpy(b->cuda, dst, src, bytes, IA_D2D), host_copy(dst, src, bytes));
}

static ia_status host_zero(void *p, size_t bytes) {
  if (bytes) memset(p, 0, bytes);
  return IA_OK;
}

ia_status ia_be_zero(ia_backend *b, void *p, size_t bytes) {
  return CUDA_OR(ia_cuda_zero(b->cuda, p, bytes), host_zero(p, bytes));
}

static ia_status host_copy2d(void *dst, size_t dpitch, const void *src, size_t spitch,
                             size_t width, int64_t cols) {
  for (int64_t j = 0; j < cols; j++)
    memmove((char *)dst + (size_t)j * dpitch, (const char *)src + (size_t)j * spitch, width);
  return IA_OK;
}

ia_status ia_be_copy_peer(ia_backend *b, void *dst, size_t dpitch, ia_backend *src_b,
                          const void *src, size_t spitch, size_t width, int64_t cols) {
  if (width == 0 || cols <= 0) return IA_OK;
  IA_CHECK(b->dev == src_b->dev, IA_ERR_INTERNAL, "copy between a CPU and a GPU backend");
  return CUDA_OR(ia_cuda_copy_peer(b->cuda, dst, dpitch, src_b->cuda, src, spitch, width, cols),
                 host_copy2d(dst, dpitch, src, spitch, width, cols));
}

ia_status ia_be_upload2d(ia_backend *b, void *dst, size_t dpitch, const void *src, size_t spitch,
                         size_t width, int64_t cols) {
  if (width == 0 || cols <= 0) return IA_OK;
  return CUDA_OR(ia_cuda_upload2d(b->cuda, dst, dpitch, src, spitch, width, cols),
                 host_copy2d(dst, dpitch, src, spitch, width, cols));
}

ia_status ia_be_download2d(ia_backend *b, void *dst, size_t dpitch, const void *src,
                           size_t spitch, size_t width, int64_t cols) {
  if (width == 0 || cols <= 0) return IA_OK;
  return CUDA_OR(ia_cuda_download2d(b->cuda, dst, dpitch, src, spitch, width, cols),
                 host_copy2d(dst, dpitch, src, spitch, width, cols));
}

ia_status ia_be_csr_make(ia_backend *b, const ia_csr *host, ia_be_csr **out) {
  ia_be_csr *c = NULL;
  IA_CALL(IA_ZALLOC(c, 1, "CSR handle"));
  c->n_rows = host->n_rows;
  c->indptr = host->indptr;
  c->indices = host->indices;
  ia_status st = CUDA_OR(ia_cuda_csr_make(b->cuda, host, c), IA_OK);
  if (st != IA_OK) {
    free(c);
    return st;
  }
  *out = c;
  return IA_OK;
}

void ia_be_csr_free(ia_backend *b, ia_be_csr **pc) {
  ia_be_csr *c = *pc;
  if (!c) return;
  ia_be_free(b, c->owned_indptr);
  ia_be_free(b, c->owned_indices);
  free(c);
  *pc = NULL;
}

/* ---- dense linear algebra (CPU) ------------------------------------------- */

static ia_status cpu_gemm(ia_precision p, char ta, char tb, int64_t m, int64_t n, int64_t k,
                          double alpha, const void *a, int64_t lda, const void *bm, int64_t ldb,
                          double beta, void *c, int64_t ldc) {
  if (m <= 0 || n <= 0) return IA_OK;
  int im, in, ik, ila, ilb, ilc;
  IA_CALL(ia_to_int(m, &im));
  IA_CALL(ia_to_int(n, &in));
  IA_CALL(ia_to_int(k, &ik));
  IA_CALL(ia_to_int(lda, &ila));
  IA_CALL(ia_to_int(ldb, &ilb));
  IA_CALL(ia_to_int(ldc, &ilc));
  enum CBLAS_TRANSPOSE xa = ta == 'T' ? CblasTrans : CblasNoTrans;
  enum CBLAS_TRANSPOSE xb = tb == 'T' ? CblasTrans : CblasNoTrans;
  if (p == IA_FP64)
    cblas_dgemm(CblasColMajor, xa, xb, im, in, ik, alpha, a, ila, bm, ilb, beta, c, ilc);
  else
    cblas_sgemm(CblasColMajor, xa, xb, im, in, ik, (float)alpha, a, ila, bm, ilb, (float)beta, c,
                ilc);
  return IA_OK;
}

ia_status ia_be_gemm(ia_backend *b, ia_precision p, char ta, char tb, int64_t m, int64_t n,
                     int64_t k, double alpha, const void *a, int64_t lda, const void *bm,
                     int64_t ldb, double beta, void *c, int64_t ldc) {
  return CUDA_OR(ia_cuda_gemm(b->cuda, p, ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc),
                 cpu_gemm(p, ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc));
}

static ia_status cpu_trsm(ia_precision p, char side, char ta, int64_t m, int64_t n,
                          const void *a, int64_t lda, void *bm, int64_t ldb) {
  if (m <= 0 || n <= 0) return IA_OK;
  int im, in, ila, ilb;
  IA_CALL(ia_to_int(m, &im));
  IA_CALL(ia_to_int(n, &in));
  IA_CALL(ia_to_int(lda, &ila));
  IA_CALL(ia_to_int(ldb, &ilb));
  enum CBLAS_SIDE sd = side == 'R' ? CblasRight : CblasLeft;
  enum CBLAS_TRANSPOSE xa = ta == 'T' ? CblasTrans : CblasNoTrans;
  if (p == IA_FP64)
    cblas_dtrsm(CblasColMajor, sd, CblasLower, xa, CblasNonUnit, im, in, 1.0, a, ila, bm, ilb);
  else
    cblas_strsm(CblasColMajor, sd, CblasLower, xa, CblasNonUnit, im, in, 1.0f, a, ila, bm, ilb);
  return IA_OK;
}

ia_status ia_be_trsm(ia_backend *b, ia_precision p, char side, char ta, int64_t m, int64_t n,
                     const void *a, int64_t lda, void *bm, int64_t ldb) {
  return CUDA_OR(ia_cuda_trsm(b->cuda, p, side, ta, m, n, a, lda, bm, ldb),
                 cpu_trsm(p, side, ta, m, n, a, lda, bm, ldb));
}

static ia_status cpu_potrf(ia_precision p, int64_t n, void *a, int64_t lda, int64_t *info) {
  int in, il;
  IA_CALL(ia_to_int(n, &in));
  IA_CALL(ia_to_int(lda, &il));
  lapack_int r = p == IA_FP64 ? LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', in, a, il)
                              : LAPACKE_spotrf(LAPACK_COL_MAJOR, 'L', in, a, il);
  IA_CHECK(r >= 0, IA_ERR_LAPACK, "?potrf: argument %d is invalid", (int)-r);
  *info = r;
  return IA_OK;
}

ia_status ia_be_potrf(ia_backend *b, ia_precision p, int64_t n, void *a, int64_t lda,
                      int64_t *info) {
  *info = 0;
  if (n <= 0) return IA_OK;
  return CUDA_OR(ia_cuda_potrf(b->cuda, p, n, a, lda, info), cpu_potrf(p, n, a, lda, info));
}

static ia_status cpu_potrs(ia_precision p, int64_t n, int64_t nrhs, const void *a, int64_t lda,
                           void *bm, int64_t ldb) {
  int in, ir, ila, ilb;
  IA_CALL(ia_to_int(n, &in));
  IA_CALL(ia_to_int(nrhs, &ir));
  IA_CALL(ia_to_int(lda, &ila));
  IA_CALL(ia_to_int(ldb, &ilb));
  lapack_int r = p == IA_FP64 ? LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', in, ir, a, ila, bm, ilb)
                              : LAPACKE_spotrs(LAPACK_COL_MAJOR, 'L', in, ir, a, ila, bm, ilb);
  IA_CHECK(r == 0, IA_ERR_LAPACK, "?potrs: argument %d is invalid", (int)-r);
  return IA_OK;
}

ia_status ia_be_potrs(ia_backend *b, ia_precision p, int64_t n, int64_t nrhs, const void *a,
                      int64_t lda, void *bm, int64_t ldb) {
  if (n <= 0 || nrhs <= 0) return IA_OK;
  return CUDA_OR(ia_cuda_potrs(b->cuda, p, n, nrhs, a, lda, bm, ldb),
                 cpu_potrs(p, n, nrhs, a, lda, bm, ldb));
}

static ia_status cpu_diag_add(ia_precision p, int64_t n, void *a, int64_t lda, double v) {
  for (int64_t i = 0; i < n; i++) {
    size_t at = (size_t)i * (size_t)lda + (size_t)i;
    if (p == IA_FP64)
      ((double *)a)[at] += v;
    else
      ((float *)a)[at] = (float)((double)((float *)a)[at] + v);
  }
  return IA_OK;
}

ia_status ia_be_diag_add(ia_backend *b, ia_precision p, int64_t n, void *a, int64_t lda,
                         double v) {
  return CUDA_OR(ia_cuda_diag_add(b->cuda, p, n, a, lda, v), cpu_diag_add(p, n, a, lda, v));
}

static ia_status cpu_diag_sum(ia_precision p, int64_t n, const void *a, int64_t lda, double *sum) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    size_t at = (size_t)i * (size_t)lda + (size_t)i;
    s += p == IA_FP64 ? ((const double *)a)[at] : (double)((const float *)a)[at];
  }
  *sum = s;
  return IA_OK;
}

ia_status ia_be_diag_sum(ia_backend *b, ia_precision p, int64_t n, const void *a, int64_t lda,
                         double *sum) {
  return CUDA_OR(ia_cuda_diag_sum(b->cuda, p, n, a, lda, sum), cpu_diag_sum(p, n, a, lda, sum));
}

/* Y(i, j) += X(i, j), or X(j, i) with op 'T' (in tiles of 32 × 32, so that
 * both sides stay in cache). */
static ia_status cpu_add(ia_precision p, char op, int64_t m, int64_t n, const void *x,
                         int64_t ldx, void *y, int64_t ldy) {
  const int64_t t = op == 'T' ? 32 : m;
  for (int64_t j0 = 0; j0 < n; j0 += 32)
    for (int64_t i0 = 0; i0 < m; i0 += t) {
      int64_t j1 = j0 + 32 < n ? j0 + 32 : n, i1 = i0 + t < m ? i0 + t : m;
      for (int64_t j = j0; j < j1; j++) {
        size_t cy = (size_t)j * (size_t)ldy;
        for (int64_t i = i0; i < i1; i++) {
          size_t at = op == 'T' ? (size_t)i * (size_t)ldx + (size_t)j
                                : (size_t)j * (size_t)ldx + (size_t)i;
          if (p == IA_FP64)
            ((double *)y)[cy + (size_t)i] += ((const double *)x)[at];
          else
            ((float *)y)[cy + (size_t)i] += ((const float *)x)[at];
        }
      }
    }
  return IA_OK;
}

ia_status ia_be_add(ia_backend *b, ia_precision p, char op, int64_t m, int64_t n, const void *x,
                    int64_t ldx, void *y, int64_t ldy) {
  IA_CHECK(op == 'N' || op == 'T', IA_ERR_ARG, "ia_be_add: op must be 'N' or 'T'");
  if (m <= 0 || n <= 0) return IA_OK;
  return CUDA_OR(ia_cuda_add(b->cuda, p, op, m, n, x, ldx, y, ldy),
                 cpu_add(p, op, m, n, x, ldx, y, ldy));
}

/* ---- densified panels and NTK tiles (CPU) ---------------------------------- */

static const int32_t *lower_bound(const int32_t *v, int64_t n, int32_t key) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (v[mid] < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return v + lo;
}

/* Sets ones at the items in [i0, i1) of rows [r0, r1) of a, as rows 0.. of
 * the column-major panel p (leading dimension ld; not cleared here). */
static void scatter(const ia_be_csr *a, int64_t r0, int64_t r1, int64_t i0, int64_t i1, void *p,
                    int64_t ld, ia_precision prec) {
  for (int64_t r = r0; r < r1; r++) {
    const int32_t *row = a->indices + a->indptr[r], *end = a->indices + a->indptr[r + 1];
    for (const int32_t *it = lower_bound(row, end - row, (int32_t)i0); it < end && *it < i1;
         it++) {
      size_t at = (size_t)(*it - i0) * (size_t)ld + (size_t)(r - r0);
      if (prec == IA_FP64)
        ((double *)p)[at] = 1.0;
      else
        ((float *)p)[at] = 1.0f;
    }
  }
}

static size_t esize(ia_precision p) { return p == IA_FP64 ? sizeof(double) : sizeof(float); }

static ia_status cpu_densify(ia_precision p, const ia_be_csr *a, int64_t d, void *out,
                             int64_t ld) {
  for (int64_t i = 0; i < d; i++) memset((char *)out + esize(p) * (size_t)i * (size_t)ld, 0,
                                         esize(p) * (size_t)a->n_rows);
  scatter(a, 0, a->n_rows, 0, d, out, ld, p);
  return IA_OK;
}

ia_status ia_be_densify(ia_backend *b, ia_precision p, const ia_be_csr *a, int64_t d, void *out,
                        int64_t ld) {
  return CUDA_OR(ia_cuda_densify(b->cuda, p, a, d, out, ld), cpu_densify(p, a, d, out, ld));
}

int64_t ia_be_panel_width(int64_t rows, int64_t d, size_t es, int64_t bytes) {
  if (rows < 1) rows = 1;
  int64_t w = bytes / (int64_t)es / rows;
  if (w < 64) w = 64;
  return w < d ? w : d;
}

int64_t ia_be_first_row(const ia_be_layout *l, int64_t j) {
  if (!l->sym) return 0;
  int64_t gj = ia_l2g(j, l->nb, l->mycol, l->npcol);
  return ia_numroc(gj / l->nb * l->nb, l->nb, l->myrow, l->nprow); /* rows of earlier blocks */
}

static ia_status cpu_ntk_tiles(ia_precision p, const ia_be_csr *ra, const ia_be_csr *rb,
                               const double *nr, const ia_be_csr *cols, const double *nc,
                               const ia_be_layout *lay, int64_t c0, int64_t c1, int64_t d,
                               int64_t panel_bytes, void *out, int64_t ldo, double *flops) {
  ia_status st = IA_OK;
  void *pa = NULL, *pb = NULL;
  size_t es = esize(p);
  int64_t mloc = ra->n_rows, nloc = c1 - c0, nb = lay->nb;
  *flops = 0;
  if (mloc <= 0 || nloc <= 0) return IA_OK;
  int64_t w = ia_be_panel_width(mloc + nloc, d, es, panel_bytes);
  IA_CALL_GOTO(ia_malloc(es * (size_t)mloc * (size_t)w, "Gram row panel", &pa));
  IA_CALL_GOTO(ia_malloc(es * (size_t)nloc * (size_t)w, "Gram column panel", &pb));
  for (int64_t i0 = 0; i0 < d; i0 += w) {
    int64_t i1 = i0 + w < d ? i0 + w : d;
    double beta = i0 == 0 ? 0.0 : 1.0;
    memset(pa, 0, es * (size_t)mloc * (size_t)(i1 - i0));
    memset(pb, 0, es * (size_t)nloc * (size_t)(i1 - i0));
    scatter(ra, 0, mloc, i0, i1, pa, mloc, p);
    if (rb) scatter(rb, 0, mloc, i0, i1, pa, mloc, p);
    scatter(cols, c0, c1, i0, i1, pb, nloc, p);
    /* With sym, column blocks aligned to nb in the local numbering (one
     * global block each), from the row where sym needs them. */
    for (int64_t j0 = c0; j0 < c1;) {
      int64_t j1 = lay->sym ? (j0 / nb + 1) * nb : c1; /* without sym: one GEMM */
      if (j1 > c1) j1 = c1;
      int64_t r0 = ia_be_first_row(lay, j0);
      if (r0 < mloc) {
        IA_CALL_GOTO(cpu_gemm(p, 'N', 'T', mloc - r0, j1 - j0, i1 - i0, 1.0,
                              (const char *)pa + es * (size_t)r0, mloc,
                              (const char *)pb + es * (size_t)(j0 - c0), nloc, beta,
                              (char *)out + es * ((size_t)(j0 - c0) * (size_t)ldo + (size_t)r0),
                              ldo));
        *flops += 2.0 * (double)(mloc - r0) * (double)(j1 - j0) * (double)(i1 - i0);
      }
      j0 = j1;
    }
  }
  /* The NTK, entry by entry. */
  double dd = (double)d;
  for (int64_t j = c0; j < c1; j++) {
    for (int64_t i = ia_be_first_row(lay, j); i < mloc; i++) {
      size_t at = (size_t)(j - c0) * (size_t)ldo + (size_t)i;
      if (p == IA_FP64) {
        double *v = (double *)out + at;
        *v = ia_ntk(*v, nr[i], nc[j], dd);
      } else {
        float *v = (float *)out + at;
        *v = (float)ia_ntk(*v, nr[i], nc[j], dd);
      }
    }
  }
done:
  free(pa);
  free(pb);
  return st;
}

ia_status ia_be_ntk_tiles(ia_backend *b, ia_precision p, const ia_be_csr *ra, const ia_be_csr *rb,
                          const double *nr, const ia_be_csr *cols, const double *nc,
                          const ia_be_layout *lay, int64_t c0, int64_t c1, int64_t d,
                          int64_t panel_bytes, void *out, int64_t ldo, double *flops) {
  if (panel_bytes <= 0) panel_bytes = (int64_t)256 << 20;
#if IA_HAVE_CUDA
  if (b->dev == IA_DEVICE_CUDA && p == IA_FP64) {
    /* A few column chunks, each through its own FP32 Gram tile. */
    int64_t cw = ia_be_ntk_stage_cols(c1 - c0, lay->nb);
    *flops = 0;
    ia_cuda_bind(b->cuda);
    for (int64_t j0 = c0; j0 < c1; j0 += cw) {
      int64_t j1 = j0 + cw < c1 ? j0 + cw : c1;
      double f = 0;
      IA_CALL(ia_cuda_ntk_tiles(b->cuda, p, ra, rb, nr, cols, nc, lay, j0, j1, d, panel_bytes,
                                (double *)out + (size_t)(j0 - c0) * (size_t)ldo, ldo, &f));
      *flops += f;
    }
    return IA_OK;
  }
#endif
  return CUDA_OR(ia_cuda_ntk_tiles(b->cuda, p, ra, rb, nr, cols, nc, lay, c0, c1, d, panel_bytes,
                                   out, ldo, flops),
                 cpu_ntk_tiles(p, ra, rb, nr, cols, nc, lay, c0, c1, d, panel_bytes, out, ldo,
                               flops));
}

int64_t ia_be_ntk_stage_cols(int64_t ncols, int64_t nb) {
  if (nb < 1) nb = 1;
  int64_t blocks = (ncols + nb - 1) / nb, cw = (blocks + 7) / 8 * nb, least = (2048 + nb - 1) / nb * nb;
  if (cw < least) cw = least;
  return cw < ncols ? cw : (ncols > 0 ? ncols : 1);
}

/* ---- Gumbel-softmax rows (CPU) --------------------------------------------------- */

static ia_status cpu_gumbel(const ia_gumbel *g, int64_t row0, int64_t n, const double *z,
                            const double *da, double *out) {
  double *scratch = NULL;
  int64_t d = g->d;
  IA_CALL(IA_ALLOC(scratch, ia_gumbel_scratch(d), "Gumbel scratch"));
  for (int64_t r = 0; r < n; r++) {
    size_t at = (size_t)r * (size_t)d;
    if (da)
      ia_gumbel_row_vjp(g, row0 + r, z + at, da + at, out + at, scratch);
    else
      ia_gumbel_row(g, row0 + r, z + at, out + at, scratch);
  }
  free(scratch);
  return IA_OK;
}

ia_status ia_be_gumbel_rows(ia_backend *b, const ia_gumbel *g, int64_t row0, int64_t n,
                            const double *z, double *a) {
  return CUDA_OR(ia_cuda_gumbel_rows(b->cuda, g, row0, n, z, a),
                 cpu_gumbel(g, row0, n, z, NULL, a));
}

ia_status ia_be_gumbel_rows_vjp(ia_backend *b, const ia_gumbel *g, int64_t row0, int64_t n,
                                const double *z, const double *da, double *dz) {
  return CUDA_OR(ia_cuda_gumbel_rows_vjp(b->cuda, g, row0, n, z, da, dz),
                 cpu_gumbel(g, row0, n, z, da, dz));
}

/* ---- finite autoencoder (CPU) ------------------------------------------------------ */

static double act_value(ia_act act, double x) {
  switch (act) {
  case IA_ACT_RELU: return x > 0 ? x : 0;
  case IA_ACT_TANH: return tanh(x);
  case IA_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
  default: return x;
  }
}

/* act'(x) written through y = act(x). */
static double act_slope(ia_act act, double y) {
  switch (act) {
  case IA_ACT_RELU: return y > 0 ? 1.0 : 0.0;
  case IA_ACT_TANH: return 1.0 - y * y;
  case IA_ACT_SIGMOID: return y * (1.0 - y);
  default: return 1.0;
  }
}

static ia_status cpu_act(ia_act act, int64_t m, int64_t n, double *x, int64_t ld) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < m; i++) x[i + j * ld] = act_value(act, x[i + j * ld]);
  return IA_OK;
}

ia_status ia_be_act(ia_backend *b, ia_act act, int64_t m, int64_t n, double *x, int64_t ld) {
  if (act == IA_ACT_IDENTITY) return IA_OK;
  return CUDA_OR(ia_cuda_act(b->cuda, act, m, n, x, ld), cpu_act(act, m, n, x, ld));
}

static ia_status cpu_act_grad(ia_act act, int64_t m, int64_t n, const double *y, int64_t ldy,
                              double *dy, int64_t lddy) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < m; i++) dy[i + j * lddy] *= act_slope(act, y[i + j * ldy]);
  return IA_OK;
}

ia_status ia_be_act_grad(ia_backend *b, ia_act act, int64_t m, int64_t n, const double *y,
                         int64_t ldy, double *dy, int64_t lddy) {
  if (act == IA_ACT_IDENTITY) return IA_OK;
  return CUDA_OR(ia_cuda_act_grad(b->cuda, act, m, n, y, ldy, dy, lddy),
                 cpu_act_grad(act, m, n, y, ldy, dy, lddy));
}

static ia_status cpu_gather_cols(int64_t m, int64_t n, const double *src, int64_t lds,
                                 const int32_t *idx, double *dst, int64_t ldd) {
  for (int64_t k = 0; k < n; k++)
    memcpy(dst + k * ldd, src + (int64_t)idx[k] * lds, sizeof(double) * (size_t)m);
  return IA_OK;
}

ia_status ia_be_gather_cols(ia_backend *b, int64_t m, int64_t n, const double *src, int64_t lds,
                            const int32_t *idx, double *dst, int64_t ldd) {
  return CUDA_OR(ia_cuda_gather_cols(b->cuda, m, n, src, lds, idx, dst, ldd),
                 cpu_gather_cols(m, n, src, lds, idx, dst, ldd));
}

static ia_status cpu_scatter_add_cols(int64_t m, int64_t n, const double *src, int64_t lds,
                                      const int32_t *idx, double *dst, int64_t ldd) {
  for (int64_t k = 0; k < n; k++) {
    double *to = dst + (int64_t)idx[k] * ldd;
    const double *from = src + k * lds;
    for (int64_t i = 0; i < m; i++) to[i] += from[i];
  }
  return IA_OK;
}

ia_status ia_be_scatter_add_cols(ia_backend *b, int64_t m, int64_t n, const double *src,
                                 int64_t lds, const int32_t *idx, double *dst, int64_t ldd) {
  return CUDA_OR(ia_cuda_scatter_add_cols(b->cuda, m, n, src, lds, idx, dst, ldd),
                 cpu_scatter_add_cols(m, n, src, lds, idx, dst, ldd));
}

/* The losses column by column (the block is column-major): per-row sums in
 * m-long arrays, each row's terms added in item order as the CUDA kernel
 * does. Softmax: one exp per entry, e = exp(o − max) kept in o, then
 * loss_r = −(Σ w·t·o − Σ w·t · lse) and ∂/∂o = e/Σe · Σ w·t − w·t. */
static ia_status cpu_recon_loss(ia_loss kind, int64_t m, int64_t n, double *o, int64_t ldo,
                                const double *t, int64_t ldt, double conf, double scale,
                                double *loss) {
  double *acc = NULL;
  IA_CALL(IA_ALLOC(acc, 4 * m + 1, "loss rows"));
  double *rl = acc, *mx = acc + m, *sum = acc + 2 * m, *wt = acc + 3 * m;
  for (int64_t r = 0; r < m; r++) rl[r] = sum[r] = wt[r] = 0, mx[r] = -INFINITY;
  if (kind == IA_LOSS_MSE) {
    for (int64_t j = 0; j < n; j++)
      for (int64_t r = 0; r < m; r++) {
        double tv = t[r + j * ldt], w = 1.0 + conf * tv, e = o[r + j * ldo] - tv;
        rl[r] += w * e * e;
        o[r + j * ldo] = scale * 2.0 * w * e;
      }
  } else {
    for (int64_t j = 0; j < n; j++)
      for (int64_t r = 0; r < m; r++) {
        double ov = o[r + j * ldo], tv = t[r + j * ldt], wv = (1.0 + conf * tv) * tv;
        mx[r] = ov > mx[r] ? ov : mx[r];
        rl[r] -= wv * ov;
        wt[r] += wv;
      }
    for (int64_t j = 0; j < n; j++)
      for (int64_t r = 0; r < m; r++) {
        double e = exp(o[r + j * ldo] - mx[r]);
        o[r + j * ldo] = e;
        sum[r] += e;
      }
    for (int64_t r = 0; r < m && n > 0; r++) rl[r] += wt[r] * (mx[r] + log(sum[r]));
    for (int64_t j = 0; j < n; j++)
      for (int64_t r = 0; r < m; r++) {
        double tv = t[r + j * ldt], wv = (1.0 + conf * tv) * tv;
        o[r + j * ldo] = scale * (o[r + j * ldo] / sum[r] * wt[r] - wv);
      }
  }
  double total = 0;
  for (int64_t r = 0; r < m; r++) total += rl[r];
  *loss = scale * total;
  free(acc);
  return IA_OK;
}

ia_status ia_be_recon_loss(ia_backend *b, ia_loss kind, int64_t m, int64_t n, double *o,
                           int64_t ldo, const double *t, int64_t ldt, double conf, double scale,
                           double *loss) {
  return CUDA_OR(ia_cuda_recon_loss(b->cuda, kind, m, n, o, ldo, t, ldt, conf, scale, loss),
                 cpu_recon_loss(kind, m, n, o, ldo, t, ldt, conf, scale, loss));
}

static ia_status cpu_adam(const ia_adam *a, int64_t n, double *x, const double *g, double *m,
                          double *v) {
  for (int64_t e = 0; e < n; e++) {
    m[e] = a->beta1 * m[e] + (1.0 - a->beta1) * g[e];
    v[e] = a->beta2 * v[e] + (1.0 - a->beta2) * g[e] * g[e];
    x[e] -= a->lr * (m[e] / a->c1) / (sqrt(v[e] / a->c2) + a->eps);
  }
  return IA_OK;
}

ia_status ia_be_adam(ia_backend *b, const ia_adam *a, int64_t n, double *x, const double *g,
                     double *m, double *v) {
  return CUDA_OR(ia_cuda_adam(b->cuda, a, n, x, g, m, v), cpu_adam(a, n, x, g, m, v));
}

/* ---- Distill-CF step (CPU) --------------------------------------------------------- */

static ia_status cpu_axpy(int64_t n, double alpha, const double *x, double *y) {
  for (int64_t e = 0; e < n; e++) y[e] += alpha * x[e];
  return IA_OK;
}

ia_status ia_be_axpy(ia_backend *b, int64_t n, double alpha, const double *x, double *y) {
  return CUDA_OR(ia_cuda_axpy(b->cuda, n, alpha, x, y), cpu_axpy(n, alpha, x, y));
}

static ia_status cpu_sum(int64_t n, const double *x, double *sum) {
  double s = 0;
  for (int64_t e = 0; e < n; e++) s += x[e];
  *sum = s;
  return IA_OK;
}

ia_status ia_be_sum(ia_backend *b, int64_t n, const double *x, double *sum) {
  return CUDA_OR(ia_cuda_sum(b->cuda, n, x, sum), cpu_sum(n, x, sum));
}

static ia_status cpu_diag_get(int64_t n, const double *a, int64_t lda, double *out) {
  for (int64_t i = 0; i < n; i++) out[i] = a[i * lda + i];
  return IA_OK;
}

ia_status ia_be_diag_get(ia_backend *b, int64_t n, const double *a, int64_t lda, double *out) {
  return CUDA_OR(ia_cuda_diag_get(b->cuda, n, a, lda, out), cpu_diag_get(n, a, lda, out));
}

static ia_status cpu_hardtanh(int64_t n, const double *a, double *s) {
  for (int64_t e = 0; e < n; e++) s[e] = a[e] < 1.0 ? a[e] : 1.0;
  return IA_OK;
}

ia_status ia_be_hardtanh(ia_backend *b, int64_t n, const double *a, double *s) {
  return CUDA_OR(ia_cuda_hardtanh(b->cuda, n, a, s), cpu_hardtanh(n, a, s));
}

static ia_status cpu_hardtanh_vjp(int64_t n, const double *a, double add, double *ds) {
  for (int64_t e = 0; e < n; e++) ds[e] = a[e] < 1.0 ? ds[e] + add : 0.0;
  return IA_OK;
}

ia_status ia_be_hardtanh_vjp(ia_backend *b, int64_t n, const double *a, double add, double *ds) {
  return CUDA_OR(ia_cuda_hardtanh_vjp(b->cuda, n, a, add, ds), cpu_hardtanh_vjp(n, a, add, ds));
}

static ia_status cpu_scale_cols_add(int64_t m, int64_t n, double c, const double *w,
                                    const double *x, int64_t ldx, double *y, int64_t ldy) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < m; i++) y[i + j * ldy] += c * w[j] * x[i + j * ldx];
  return IA_OK;
}

ia_status ia_be_scale_cols_add(ia_backend *b, int64_t m, int64_t n, double c, const double *w,
                               const double *x, int64_t ldx, double *y, int64_t ldy) {
  return CUDA_OR(ia_cuda_scale_cols_add(b->cuda, m, n, c, w, x, ldx, y, ldy),
                 cpu_scale_cols_add(m, n, c, w, x, ldx, y, ldy));
}

static ia_status cpu_densify_rows(const ia_be_csr *a, const int32_t *rows, int64_t n, int64_t d,
                                  double *out, int64_t ld) {
  for (int64_t u = 0; u < n; u++) {
    double *col = out + u * ld;
    memset(col, 0, sizeof(double) * (size_t)d);
    for (int64_t p = a->indptr[rows[u]]; p < a->indptr[rows[u] + 1]; p++) col[a->indices[p]] = 1;
  }
  return IA_OK;
}

ia_status ia_be_densify_rows(ia_backend *b, const ia_be_csr *a, const int32_t *rows, int64_t n,
                             int64_t d, double *out, int64_t ld) {
  return CUDA_OR(ia_cuda_densify_rows(b->cuda, a, rows, n, d, out, ld),
                 cpu_densify_rows(a, rows, n, d, out, ld));
}

static ia_status cpu_ntk_dense(int64_t m, int64_t n, double d, const double *g, int64_t ldg,
                               const double *nr, const double *nc, double *k, int64_t ldk,
                               double *dxy, double *dnr) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < m; i++) {
      double x = g[i + j * ldg], gxx, gyy;
      if (dxy)
        k[i + j * ldk] = ia_ntk_grad(x, nr[i], nc[j], d, &dxy[i + j * m], &gxx, &gyy),
                    dnr[i + j * m] = gxx;
      else
        k[i + j * ldk] = ia_ntk(x, nr[i], nc[j], d);
    }
  return IA_OK;
}

ia_status ia_be_ntk_dense(ia_backend *b, int64_t m, int64_t n, double d, const double *g,
                          int64_t ldg, const double *nr, const double *nc, double *k, int64_t ldk,
                          double *dxy, double *dnr) {
  return CUDA_OR(ia_cuda_ntk_dense(b->cuda, m, n, d, g, ldg, nr, nc, k, ldk, dxy, dnr),
                 cpu_ntk_dense(m, n, d, g, ldg, nr, nc, k, ldk, dxy, dnr));
}

static ia_status cpu_ntk_dense_vjp(int64_t m, int64_t n, double *dk, int64_t ldk,
                                   const double *dxy, const double *dnr, double *dn) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < m; i++) {
      dn[i] += dk[i + j * ldk] * dnr[i + j * m];
      dk[i + j * ldk] *= dxy[i + j * m];
    }
  return IA_OK;
}

ia_status ia_be_ntk_dense_vjp(ia_backend *b, int64_t m, int64_t n, double *dk, int64_t ldk,
                              const double *dxy, const double *dnr, double *dn) {
  return CUDA_OR(ia_cuda_ntk_dense_vjp(b->cuda, m, n, dk, ldk, dxy, dnr, dn),
                 cpu_ntk_dense_vjp(m, n, dk, ldk, dxy, dnr, dn));
}

static ia_status cpu_ntk_sym_vjp(int64_t mu, double d, const double *g, int64_t ldg,
                                 const double *n, const double *dk, int64_t ldk, double *dg,
                                 int64_t lddg, double *dn) {
  for (int64_t i = 0; i < mu; i++)
    dn[i] = ia_ntk_sym_vjp_row(i, mu, d, g, ldg, n, dk, ldk, dg, lddg);
  return IA_OK;
}

ia_status ia_be_ntk_sym_vjp(ia_backend *b, int64_t mu, double d, const double *g, int64_t ldg,
                            const double *n, const double *dk, int64_t ldk, double *dg,
                            int64_t lddg, double *dn) {
  return CUDA_OR(ia_cuda_ntk_sym_vjp(b->cuda, mu, d, g, ldg, n, dk, ldk, dg, lddg, dn),
                 cpu_ntk_sym_vjp(mu, d, g, ldg, n, dk, ldk, dg, lddg, dn));
}

static ia_status cpu_softmax_ce(int64_t d, int64_t n, double *p, int64_t ldp, const ia_be_csr *t,
                                const int32_t *rows, double scale, int grad, double *loss) {
  double total = 0;
  for (int64_t u = 0; u < n; u++) {
    double *col = p + u * ldp, mx = col[0], sum = 0, hit = 0;
    const int32_t *items = t->indices + t->indptr[rows[u]];
    int64_t ni = t->indptr[rows[u] + 1] - t->indptr[rows[u]];
    for (int64_t i = 1; i < d; i++) mx = col[i] > mx ? col[i] : mx;
    for (int64_t i = 0; i < d; i++) sum += exp(col[i] - mx);
    double lse = mx + log(sum);
    for (int64_t q = 0; q < ni; q++) hit += col[items[q]];
    total += (double)ni * lse - hit;
    if (!grad) continue;
    for (int64_t i = 0; i < d; i++) col[i] = scale * (double)ni * exp(col[i] - lse);
    for (int64_t q = 0; q < ni; q++) col[items[q]] -= scale;
  }
  *loss = total;
  return IA_OK;
}

ia_status ia_be_softmax_ce(ia_backend *b, int64_t d, int64_t n, double *p, int64_t ldp,
                           const ia_be_csr *t, const int32_t *rows, double scale, int grad,
                           double *loss) {
  return CUDA_OR(ia_cuda_softmax_ce(b->cuda, d, n, p, ldp, t, rows, scale, grad, loss),
                 cpu_softmax_ce(d, n, p, ldp, t, rows, scale, grad, loss));
}

/* ---- ranking (CPU) ------------------------------------------------------------------- */

static ia_status cpu_gather_items(int64_t n, const double *p, int64_t ldp, const ia_be_csr *c,
                                  const int32_t *rows, const int64_t *off, double *out) {
  for (int64_t u = 0; u < n; u++)
    for (int64_t q = c->indptr[rows[u]]; q < c->indptr[rows[u] + 1]; q++)
      out[off[u] + q - c->indptr[rows[u]]] = p[u * ldp + c->indices[q]];
  return IA_OK;
}

ia_status ia_be_gather_items(ia_backend *b, int64_t n, const double *p, int64_t ldp,
                             const ia_be_csr *c, const int32_t *rows, const int64_t *off,
                             double *out) {
  return CUDA_OR(ia_cuda_gather_items(b->cuda, n, p, ldp, c, rows, off, out),
                 cpu_gather_items(n, p, ldp, c, rows, off, out));
}

static ia_status cpu_rank_cols(int64_t d, int64_t n, double *p, int64_t ldp, const ia_be_csr *ca,
                               const ia_be_csr *cb, const int32_t *rows, int k, int32_t *top,
                               int64_t ldt) {
  for (int64_t u = 0; u < n; u++) {
    double *col = p + u * ldp;
    const ia_be_csr *ctx[2] = {ca, cb};
    for (int h = 0; h < 2; h++)
      for (int64_t q = ctx[h] ? ctx[h]->indptr[rows[u]] : 0;
           ctx[h] && q < ctx[h]->indptr[rows[u] + 1]; q++)
        col[ctx[h]->indices[q]] = -INFINITY;
    ia_topk(col, d, k, top + u * ldt);
  }
  return IA_OK;
}

ia_status ia_be_rank_cols(ia_backend *b, int64_t d, int64_t n, double *p, int64_t ldp,
                          const ia_be_csr *ca, const ia_be_csr *cb, const int32_t *rows, int k,
                          int32_t *top, int64_t ldt) {
  IA_CHECK(k >= 1 && k <= d && k <= IA_TOPK, IA_ERR_ARG, "top-%d of %lld items", k, (long long)d);
  return CUDA_OR(ia_cuda_rank_cols(b->cuda, d, n, p, ldp, ca, cb, rows, k, top, ldt),
                 cpu_rank_cols(d, n, p, ldp, ca, cb, rows, k, top, ldt));
}

static ia_status cpu_rows_to_cols(ia_precision p, const void *src, int64_t ld, const int32_t *rows,
                                  int64_t n, int64_t d, double scale, double beta, double *out,
                                  int64_t ldo) {
  for (int64_t u = 0; u < n; u++)
    for (int64_t i = 0; i < d; i++) {
      int64_t at = rows[u] + i * ld;
      double v = p == IA_FP64 ? ((const double *)src)[at] : (double)((const float *)src)[at];
      double *o = out + u * ldo + i;
      *o = beta == 0 ? scale * v : beta * *o + scale * v;
    }
  return IA_OK;
}

ia_status ia_be_rows_to_cols(ia_backend *b, ia_precision p, const void *src, int64_t ld,
                             const int32_t *rows, int64_t n, int64_t d, double scale, double beta,
                             double *out, int64_t ldo) {
  return CUDA_OR(ia_cuda_rows_to_cols(b->cuda, p, src, ld, rows, n, d, scale, beta, out, ldo),
                 cpu_rows_to_cols(p, src, ld, rows, n, d, scale, beta, out, ldo));
}

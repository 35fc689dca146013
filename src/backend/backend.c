/* The backend object: opening one (CPU or a GPU of the node), memory and
 * transfers, reductions across ranks. The operations are in the other files
 * of this folder, each dispatching to the CPU code beside it or to kernels/. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <sched.h>
#include <unistd.h>

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/dispatch.h"
#include "infae/backend/device.h"
#include "infae/core/log.h"
#include "infae/core/ntk.h"
#include "infae/core/topk.h"

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

/* The threads asked of OpenBLAS (OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS;
 * 0: not asked) against the cores a rank may run on (its CPU affinity, which
 * caps OpenBLAS's threads: mpiexec binds each rank to one core by default when
 * it starts one or two), and the threads run against the node's cores shared
 * by its ranks. One warning, with rank 0's numbers. */
static void check_threads(MPI_Comm comm, MPI_Comm node) {
  cpu_set_t set;
  const char *env = getenv("OPENBLAS_NUM_THREADS");
  if (!env || !env[0]) env = getenv("OMP_NUM_THREADS");
  int asked = env ? atoi(env) : 0, threads = openblas_get_num_threads(), local = 1, rank;
  int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  MPI_Comm_size(node, &local);
  MPI_Comm_rank(comm, &rank);
  int bad[2] = {asked > 1 && cores > 0 && asked > cores,
                threads > 1 && online > 0 && (long)threads * local > online};
  MPI_Allreduce(MPI_IN_PLACE, bad, 2, MPI_INT, MPI_MAX, comm);
  if (rank != 0) return;
  if (bad[0])
    ia_log_warn(
        "%d BLAS threads asked for, but rank 0 may run on %d core(s), so OpenBLAS runs "
        "%d: give each rank its threads' cores (mpiexec --bind-to none, or --map-by "
        "slot:PE=%d)",
        asked, cores, threads, asked);
  else if (bad[1])
    ia_log_warn(
        "%d ranks on this node × %d OpenBLAS threads > its %ld cores: set "
        "OPENBLAS_NUM_THREADS=%ld",
        local, threads, online, online / local > 1 ? online / local : 1);
}

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
  if (st == IA_OK) check_threads(comm, node);
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
  if (st == IA_OK && b->dev == IA_DEVICE_CUDA)
    st = ia_agree(comm, gpu_share(node, b->cuda, &b->share));
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

static ia_status host_copy2d(void *dst, size_t dpitch, const void *src, size_t spitch, size_t width,
                             int64_t cols) {
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

ia_status ia_be_download2d(ia_backend *b, void *dst, size_t dpitch, const void *src, size_t spitch,
                           size_t width, int64_t cols) {
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

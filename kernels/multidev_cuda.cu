/* cusolverMg: the Cholesky factor and solves of a matrix spread over the
 * GPUs of one node in 1-D column block-cyclic tiles (infae/dist/multidev.h).
 * NVIDIA marks cusolverMg deprecated; it stays behind ia_md so that
 * cuSOLVERMp can take its place. */
#define DISABLE_CUSOLVERMG_DEPRECATED 1
#include <cuda_runtime.h>
#include <cusolverMg.h>
#include <mpi.h>

#include <cstdlib>

#include "cuda_check.h"

extern "C" {
#include "backend/backend_impl.h"
#include "infae/dist/multidev.h"
}

struct ia_cuda_mg {
  int ndev;
  int ids[IA_MD_MAX];
  ia_cuda *dev[IA_MD_MAX];
  cusolverMgHandle_t h;
  cudaLibMgGrid_t grid;
};

static cudaDataType real_type(ia_precision p) { return p == IA_FP64 ? CUDA_R_64F : CUDA_R_32F; }
static size_t esize(ia_precision p) { return p == IA_FP64 ? sizeof(double) : sizeof(float); }

ia_status ia_cuda_mg_open(ia_cuda *const *c, int ndev, ia_cuda_mg **out) {
  *out = NULL;
  ia_cuda_mg *mg = (ia_cuda_mg *)calloc(1, sizeof *mg);
  IA_CHECK(mg != NULL, IA_ERR_NOMEM, "cannot allocate the cusolverMg state");
  ia_status st = IA_OK;
  mg->ndev = ndev;
  for (int g = 0; g < ndev; g++) {
    mg->dev[g] = c[g];
    mg->ids[g] = ia_cuda_index(c[g]);
    for (int h = 0; h < g; h++)
      if (mg->ids[h] == mg->ids[g])
        st = ia_error_set(IA_ERR_ARG, __FILE__, __LINE__, "GPU %d is listed twice", mg->ids[g]);
  }
  /* Peer access both ways where the GPUs allow it: cusolverMg moves tiles
   * between them. */
  for (int i = 0; i < ndev && st == IA_OK; i++)
    for (int j = 0; j < ndev && st == IA_OK; j++) {
      int can = 0;
      if (i == j) continue;
      st = CUDA(cudaSetDevice(mg->ids[i]));
      if (st == IA_OK) st = CUDA(cudaDeviceCanAccessPeer(&can, mg->ids[i], mg->ids[j]));
      if (st != IA_OK || !can) continue;
      cudaError_t e = cudaDeviceEnablePeerAccess(mg->ids[j], 0);
      if (e == cudaErrorPeerAccessAlreadyEnabled)
        cudaGetLastError();
      else
        st = CUDA(e);
    }
  if (st == IA_OK) st = CUSOLVER(cusolverMgCreate(&mg->h));
  if (st == IA_OK) st = CUSOLVER(cusolverMgDeviceSelect(mg->h, ndev, mg->ids));
  if (st == IA_OK)
    st = CUSOLVER(
        cusolverMgCreateDeviceGrid(&mg->grid, 1, ndev, mg->ids, CUDALIBMG_GRID_MAPPING_COL_MAJOR));
  cudaSetDevice(mg->ids[0]);
  if (st != IA_OK) {
    ia_cuda_mg_close(mg);
    return st;
  }
  *out = mg;
  return IA_OK;
}

void ia_cuda_mg_close(ia_cuda_mg *mg) {
  if (!mg) return;
  if (mg->grid) cusolverMgDestroyGrid(mg->grid);
  if (mg->h) cusolverMgDestroy(mg->h);
  cudaSetDevice(mg->ids[0]);
  free(mg);
}

/* Every device's queued work (our streams), or everything on the devices
 * (after cusolverMg, which uses its own). */
static ia_status wait_all(ia_cuda_mg *mg, int whole_device) {
  ia_status st = IA_OK;
  for (int g = 0; g < mg->ndev && st == IA_OK; g++) {
    st = CUDA(cudaSetDevice(mg->ids[g]));
    if (st == IA_OK) st = whole_device ? CUDA(cudaDeviceSynchronize()) : ia_cuda_sync(mg->dev[g]);
  }
  return st;
}

static void free_work(ia_cuda_mg *mg, void **w) {
  for (int g = 0; g < mg->ndev; g++)
    if (w[g]) {
      cudaSetDevice(mg->ids[g]);
      cudaFree(w[g]);
      w[g] = NULL;
    }
  cudaSetDevice(mg->ids[0]);
}

static ia_status alloc_work(ia_cuda_mg *mg, size_t bytes, void **w) {
  ia_status st = IA_OK;
  for (int g = 0; g < mg->ndev && st == IA_OK; g++) {
    st = CUDA(cudaSetDevice(mg->ids[g]));
    if (st == IA_OK) st = CUDA(cudaMalloc(&w[g], bytes > 0 ? bytes : 1));
  }
  return st;
}

ia_status ia_cuda_mg_potrf(ia_cuda_mg *mg, ia_precision p, int64_t n, int64_t nb,
                           void *const *parts, int64_t *info) {
  int in = 0, h_info = 0;
  int64_t lwork = 0;
  IA_CALL(ia_to_int(n, &in));
  cudaDataType t = real_type(p);
  void **a = const_cast<void **>(parts);
  void *work[IA_MD_MAX] = {0};
  cudaLibMgMatrixDesc_t desc = NULL;
  ia_status st = CUSOLVER(cusolverMgCreateMatrixDesc(&desc, n, n, n, nb, t, mg->grid));
  if (st == IA_OK)
    st = CUSOLVER(
        cusolverMgPotrf_bufferSize(mg->h, CUBLAS_FILL_MODE_LOWER, in, a, 1, 1, desc, t, &lwork));
  if (st == IA_OK) st = alloc_work(mg, esize(p) * (size_t)lwork, work);
  if (st == IA_OK) st = wait_all(mg, 0);
  if (st == IA_OK)
    st = CUSOLVER(
        cusolverMgPotrf(mg->h, CUBLAS_FILL_MODE_LOWER, in, a, 1, 1, desc, t, work, lwork, &h_info));
  if (st == IA_OK) st = wait_all(mg, 1);
  free_work(mg, work);
  if (desc) cusolverMgDestroyMatrixDesc(desc);
  IA_CALL(st);
  IA_CHECK(h_info >= 0, IA_ERR_LAPACK, "cusolverMgPotrf: argument %d is invalid", -h_info);
  *info = h_info;
  return IA_OK;
}

ia_status ia_cuda_mg_potrs(ia_cuda_mg *mg, ia_precision p, int64_t n, int64_t nb,
                           void *const *lparts, int64_t nrhs, int64_t nbb, void *const *bparts) {
  int in = 0, ir = 0, h_info = 0;
  int64_t lwork = 0;
  IA_CALL(ia_to_int(n, &in));
  IA_CALL(ia_to_int(nrhs, &ir));
  cudaDataType t = real_type(p);
  void **a = const_cast<void **>(lparts), **b = const_cast<void **>(bparts);
  void *work[IA_MD_MAX] = {0};
  cudaLibMgMatrixDesc_t da = NULL, db = NULL;
  ia_status st = CUSOLVER(cusolverMgCreateMatrixDesc(&da, n, n, n, nb, t, mg->grid));
  if (st == IA_OK) st = CUSOLVER(cusolverMgCreateMatrixDesc(&db, n, nrhs, n, nbb, t, mg->grid));
  if (st == IA_OK)
    st = CUSOLVER(cusolverMgPotrs_bufferSize(mg->h, CUBLAS_FILL_MODE_LOWER, in, ir, a, 1, 1, da, b,
                                             1, 1, db, t, &lwork));
  if (st == IA_OK) st = alloc_work(mg, esize(p) * (size_t)lwork, work);
  if (st == IA_OK) st = wait_all(mg, 0);
  if (st == IA_OK)
    st = CUSOLVER(cusolverMgPotrs(mg->h, CUBLAS_FILL_MODE_LOWER, in, ir, a, 1, 1, da, b, 1, 1, db,
                                  t, work, lwork, &h_info));
  if (st == IA_OK) st = wait_all(mg, 1);
  free_work(mg, work);
  if (db) cusolverMgDestroyMatrixDesc(db);
  if (da) cusolverMgDestroyMatrixDesc(da);
  IA_CALL(st);
  IA_CHECK(h_info == 0, IA_ERR_LAPACK, "cusolverMgPotrs: argument %d is invalid", -h_info);
  return IA_OK;
}

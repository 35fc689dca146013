#include <cuda_runtime.h>

extern "C" {
#include "infae/backend/device.h"
}

/* Why the last count found no device: "" when a device was found, or when
 * there is simply no GPU or no driver (the CPU machines' normal case). */
static const char *count_error = "";

extern "C" int ia_cuda_device_count(void) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaSuccess) {
    count_error = "";
    return n;
  }
  count_error =
      e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ? "" : cudaGetErrorString(e);
  return 0;
}

extern "C" const char *ia_cuda_device_error(void) { return count_error; }

extern "C" const char *ia_cuda_device_name(void) {
  static cudaDeviceProp prop;
  if (ia_cuda_device_count() == 0 || cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "";
  return prop.name;
}

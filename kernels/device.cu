#include <cuda_runtime.h>

extern "C" {
#include "infae/device.h"
}

extern "C" int ia_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0; /* no driver or no GPU */
  return n;
}

extern "C" const char *ia_cuda_device_name(void) {
  static cudaDeviceProp prop;
  if (ia_cuda_device_count() == 0 || cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "";
  return prop.name;
}

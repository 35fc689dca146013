/* Without the CUDA backend there is no device. */
#include "infae/backend/device.h"
#include "infae/config.h"

#if !IA_HAVE_CUDA
int ia_cuda_device_count(void) { return 0; }
const char *ia_cuda_device_name(void) { return ""; }
const char *ia_cuda_device_error(void) { return ""; }
#endif

#pragma once
/* Accelerators visible to this process. */

/* Number of CUDA devices visible here; 0 without the CUDA backend, a driver
 * or a GPU. Not collective. */
int ia_cuda_device_count(void);
/* Name of device 0, or "" when there is none. */
const char *ia_cuda_device_name(void);

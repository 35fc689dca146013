#pragma once
/* Accelerators visible to this process. */

/* Number of CUDA devices visible here; 0 without the CUDA backend, a driver
 * or a GPU. Not collective. */
int ia_cuda_device_count(void);
/* After a count of 0: the CUDA runtime's reason when it was an error other
 * than "no device" or "no driver" (a driver too old for this build, a device
 * that cannot be used, …), else "". Not collective. */
const char *ia_cuda_device_error(void);
/* Name of device 0, or "" when there is none. */
const char *ia_cuda_device_name(void);

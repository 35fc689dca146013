# Dependencies, all from Debian packages (scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)

find_package(MPI REQUIRED COMPONENTS C)

set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "infae needs a parallel HDF5 (Debian: libhdf5-openmpi-dev)")
endif()

# find_package(scalapack CONFIG) is broken on Debian 12: use pkg-config.
pkg_check_modules(SCALAPACK IMPORTED_TARGET scalapack-openmpi)
if(NOT SCALAPACK_FOUND)
  find_library(SCALAPACK_LIB NAMES scalapack-openmpi scalapack REQUIRED)
  add_library(PkgConfig::SCALAPACK INTERFACE IMPORTED)
  set_target_properties(PkgConfig::SCALAPACK PROPERTIES INTERFACE_LINK_LIBRARIES ${SCALAPACK_LIB})
endif()

set(BLA_VENDOR OpenBLAS)
find_package(BLAS REQUIRED)
find_package(LAPACK REQUIRED)
pkg_check_modules(LAPACKE REQUIRED IMPORTED_TARGET lapacke)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)
# One host thread per GPU when a rank drives several (src/multidev.c).
find_package(Threads REQUIRED)

find_path(RANDOM123_INCLUDE_DIR Random123/philox.h REQUIRED)
add_library(Random123::Random123 INTERFACE IMPORTED)
set_target_properties(Random123::Random123 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES ${RANDOM123_INCLUDE_DIR})

if(INFAE_CUDA)
  enable_language(CUDA)
  find_package(CUDAToolkit REQUIRED)
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} REQUIRED)
  find_library(CUSOLVERMG_LIBRARY cusolverMg HINTS ${CUDAToolkit_LIBRARY_DIR} REQUIRED)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} REQUIRED)
endif()

#!/usr/bin/env bash
# A self-contained copy of a build, for a GPU node whose image lacks the
# Debian packages infae links against (Open MPI, parallel HDF5, ScaLAPACK,
# OpenBLAS, cJSON, …): the programs, the shared libraries they need except
# the C/C++ runtime and CUDA's own (the node's are used), and Open MPI's and
# PMIx's components and mpirun, packed as one .tar.xz. The node needs
# glibc ≥ 2.36 and the CUDA 13 libraries.
#
# Usage:  scripts/bundle.sh BUILD_DIR OUT.tar.xz
# There:  mkdir B && tar xf OUT.tar.xz -C B && source B/env.sh && infae_mpi --version
set -euo pipefail
build=${1:?build dir}
out=${2:?output .tar.xz}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/ompi" "$stage/pmix"

progs=("$build/src/infae_mpi")
for t in test_backend_cuda test_multidev test_distill_be test_summa test_dmat summa_bench; do
  [ -x "$build/tests/$t" ] && progs+=("$build/tests/$t")
done
cp "${progs[@]}" "$stage/bin/"
# mpirun for several ranks on the node: Open MPI's launcher and daemon.
launcher=$(readlink -f "$(command -v orterun || command -v mpirun)")
cp "$launcher" "$stage/bin/orterun"
cp "$(dirname "$launcher")/orted" "$stage/bin/orted"
ln -s orterun "$stage/bin/mpirun"
ln -s orterun "$stage/bin/mpiexec"
progs+=("$stage/bin/orterun" "$stage/bin/orted")

# The node's own: the C and C++ runtimes, the loader and the CUDA libraries.
node_lib='^(linux-vdso|ld-linux|libc\.|libm\.|libmvec|libdl\.|libpthread|librt\.|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcusolver|libcusparse|libnvJitLink|libnccl)'
deps() { ldd "$@" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u; }
ompi_dir=$(dirname "$(ldd "$build/src/infae_mpi" | awk '/libmpi\.so/ {print $3}')")
components=$(ls -d "$ompi_dir"/openmpi/lib/openmpi3 /usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3 \
  2>/dev/null | head -1 || true)
pmix=$(ls -d /usr/lib/x86_64-linux-gnu/pmix2/lib/pmix 2>/dev/null | head -1 || true)
[ -n "$components" ] && cp "$components"/*.so "$stage/ompi/"
[ -n "$pmix" ] && cp "$pmix"/*.so "$stage/pmix/"
# Libraries of the programs and of the components (a component whose
# library is missing here is left out: Open MPI skips it).
deps "${progs[@]}" "$stage"/ompi/*.so "$stage"/pmix/*.so | while read -r name path; do
  [[ $name =~ $node_lib ]] || cp -L "$path" "$stage/lib/$name"
done
for so in "$stage"/ompi/*.so "$stage"/pmix/*.so; do
  if LD_LIBRARY_PATH="$stage/lib" ldd "$so" | grep -q "not found"; then rm "$so"; fi
done
[ -d /usr/share/openmpi ] && cp -r /usr/share/openmpi "$stage/share-openmpi"

cat > "$stage/env.sh" <<'EOF'
# Source me: the bundle's programs on PATH, its libraries first, CUDA's and
# NCCL's from this node, Open MPI as a singleton with the bundle's components.
B=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cuda_libs=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && cuda_libs="$cuda_libs:$d"
done
for f in libnccl.so.2 libcusolverMg.so.12 libcublas.so.13 libcudart.so.13; do
  if ! ldconfig -p 2>/dev/null | grep -q "$f" && [ -z "$(ls ${cuda_libs//:/ } 2>/dev/null | grep "$f")" ]; then
    hit=$(find / -xdev -name "$f" -not -path '*/proc/*' 2>/dev/null | head -1)
    [ -n "$hit" ] && cuda_libs="$cuda_libs:$(dirname "$hit")"
  fi
done
export PATH="$B/bin:$PATH"
export LD_LIBRARY_PATH="$B/lib${cuda_libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMPI_MCA_mca_base_component_path="$B/ompi"
export PMIX_MCA_mca_base_component_path="$B/pmix"
export OMPI_MCA_mca_base_component_show_load_errors=0
export OMPI_MCA_ess_singleton_isolated=1
export OPAL_PREFIX="$B" # mpirun starts $B/bin/orted
export OPAL_PKGDATADIR="$B/share-openmpi"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
EOF
mkdir -p "$(dirname "$out")"
tar -C "$stage" -cJf "$out" .
echo "bundle: $out ($(du -h "$out" | cut -f1); $(ls "$stage/lib" | wc -l) libraries," \
  "$(ls "$stage/ompi" | wc -l) Open MPI components)"

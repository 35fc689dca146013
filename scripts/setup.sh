#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a built infae:
# installs the Debian packages, configures and builds into build/.
# Extra arguments go to cmake (e.g. -DINFAE_CUDA=ON).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
cmake -S "$here" -B "$here/build" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$here/build" -j "$(nproc)"
echo "built $here/build/src/infae_mpi"

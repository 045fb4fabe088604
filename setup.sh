#!/usr/bin/env bash
# Installs every dependency from Debian's packages (idempotent), then configures and builds clustersim in ./build.
# Run as root on Debian 12. The CUDA calibration kernels build only where nvcc is installed.
set -euo pipefail
cd "$(dirname "$0")"

packages=(
  build-essential cmake pkg-config git
  libsimgrid-dev libboost-graph-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libopenmpi-dev openmpi-bin
  chromium fonts-liberation       # headless browser for the HTML report's test (it skips without one)
)
# npm installs the plotting libraries the HTML report inlines (reports/html). A Node.js that already brings npm (as
# NodeSource's does) is kept: Debian's npm package conflicts with it.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Vega, Vega-Lite and vega-embed at the versions pinned in reports/html/package-lock.json: the HTML report inlines
# their minified builds, so a report opens with no network.
if [[ ! -f reports/html/node_modules/.package-lock.json ||
      reports/html/package-lock.json -nt reports/html/node_modules/.package-lock.json ]]; then
  echo "setup: npm ci in reports/html"
  (cd reports/html && npm ci --no-audit --no-fund)
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"

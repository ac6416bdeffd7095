#!/usr/bin/env bash
# Installs the Debian packages GMI needs, only those missing. Idempotent; needs root (or sudo).
set -euo pipefail
PACKAGES=(
  python3-qgis qgis-providers qgis     # QGIS 3.22 LTR, its Python bindings (plugin, pytest-qgis), qgis_process
  python3-gdal gdal-bin                 # GDAL 3.6 with the HDF4 driver
  python3-venv python3-pip python3-numpy python3-pyproj proj-bin python3-matplotlib
  xvfb xauth                            # screenshots of the plugin under a virtual display
  grass-core                            # the GRASS GIS chain the benchmarks compare against
  qttools5-dev-tools                    # lrelease: compiles the plugin translations (i18n/*.ts -> .qm)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

# Shared by the scripts: install what is missing from Debian 12, then build.
# Sourced, not run.

KINBOX_PACKAGES=(cmake g++ make libcaf-dev libnats-dev nats-server liblmdb-dev libsodium-dev
  libboost-program-options-dev nlohmann-json3-dev libspdlog-dev libfmt-dev python3
  libmosquitto-dev mosquitto gnuplot-nox)
KINBOX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KINBOX_BUILD=${KINBOX_BUILD:-$KINBOX_ROOT/build}

kinbox_install_deps() {
  local missing=()
  for p in "${KINBOX_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ] && [ "${CI:-}" != "true" ]; then
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "installing: ${missing[*]:-(refreshing package lists)}"
  $sudo apt-get update -qq
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

kinbox_build() {
  cmake -S "$KINBOX_ROOT" -B "$KINBOX_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKINBOX_WERROR=ON
  cmake --build "$KINBOX_BUILD" -j "$(nproc)"
}

# Shared by the scripts: install what is missing from Debian 12, then build.
# Sourced, not run.

KINBOX_PACKAGES=(cmake g++ make libcaf-dev libnats-dev nats-server liblmdb-dev libsodium-dev
  libboost-program-options-dev nlohmann-json3-dev libspdlog-dev libfmt-dev python3
  libmosquitto-dev mosquitto libbenchmark-dev gnuplot-nox procps clang libclang-rt-14-dev
  libicu-dev libvips-dev pkg-config libfaketime prometheus-cpp-dev curl
  openssl adduser dpkg-dev)
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

kinbox_random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# A local NATS cluster of 3 servers (JetStream, routes, one user) in "$1", client ports
# from "$2" (default 14222), and the files its kinbox nodes share: nats-credentials and
# cluster.key. Made once; started again from the same files. Sets KINBOX_NATS_URLS and
# KINBOX_NATS_PIDS.
kinbox_start_nats_cluster() {
  local dir=$1 base=${2:-14222}
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [ ! -f "$dir/nats-credentials" ]; then
    (umask 077; printf 'user=kinbox\npassword=%s\n' "$(kinbox_random_hex 24)" > "$dir/nats-credentials")
    (umask 077; kinbox_random_hex 24 > "$dir/route-password")
  fi
  if [ ! -f "$dir/cluster.key" ]; then
    (umask 077; printf 'kinbox-cluster-key-v1 %s\n' "$(kinbox_random_hex 32)" > "$dir/cluster.key")
  fi
  local password route_password
  password=$(sed -n 's/^password=//p' "$dir/nats-credentials")
  route_password=$(cat "$dir/route-password")
  KINBOX_NATS_URLS=""
  KINBOX_NATS_PIDS=""
  local i j
  for i in 1 2 3; do
    local routes=""
    for j in 1 2 3; do
      [ "$i" = "$j" ] && continue
      routes="$routes${routes:+, }\"nats-route://route:$route_password@127.0.0.1:$((base + 2000 + j - 1))\""
    done
    (umask 077; cat > "$dir/nats$i.conf" <<CONF
server_name: nats$i
listen: 127.0.0.1:$((base + i - 1))
jetstream { store_dir: "$dir/nats$i" }
authorization { user: kinbox, password: "$password" }
cluster {
  name: kinbox-dev
  listen: 127.0.0.1:$((base + 2000 + i - 1))
  authorization { user: route, password: "$route_password" }
  routes: [$routes]
}
CONF
    )
    # Its own session: a Ctrl-C in the terminal stops the nodes first, and they still
    # reach NATS while they leave.
    setsid "$(command -v nats-server || echo /usr/sbin/nats-server)" -c "$dir/nats$i.conf" \
      >>"$dir/nats$i.log" 2>&1 &
    KINBOX_NATS_PIDS="$KINBOX_NATS_PIDS $!"
    KINBOX_NATS_URLS="$KINBOX_NATS_URLS${KINBOX_NATS_URLS:+,}nats://127.0.0.1:$((base + i - 1))"
  done
}

# Starts kinbox-node "$2" of the cluster in "$1" (made by kinbox_start_nats_cluster) with its
# gateway on "$3" and its metrics on "$4" (default: off), in the background. Appends its pid
# to KINBOX_NODE_PIDS.
kinbox_start_node() {
  local dir=$1 id=$2 listen=$3 metrics=${4:-off}
  "$KINBOX_BUILD/kinbox-node" --node-id "$id" --data-dir "$dir/$id" --listen "$listen" \
    --metrics-listen "$metrics" \
    --nats "$KINBOX_NATS_URLS" --nats-credentials "$dir/nats-credentials" \
    --key-file "$dir/cluster.key" >>"$dir/$id.log" 2>&1 &
  KINBOX_NODE_PIDS="${KINBOX_NODE_PIDS:-} $!"
}

# Waits until something accepts connections on host:port "$1" (at most 30 s).
kinbox_wait_port() {
  local i
  for i in $(seq 1 300); do
    (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

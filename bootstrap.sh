#!/usr/bin/env bash
# Set up a Debian 12 machine for vswitch-appliance, then run it or its tests.
#   ./bootstrap.sh run    start the appliance on its embedded defaults, with two hosts
#   ./bootstrap.sh test   run the whole test suite
# Idempotent: apt packages and the ./.venv virtualenv are installed only when missing.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(python3 python3-venv python3-dev gcc pkg-config iproute2 iputils-ping ethtool
              dpdk dpdk-dev libdpdk-dev openvswitch-common openvswitch-switch)

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "bootstrap.sh: run as root (it installs packages and reserves hugepages)" >&2
        exit 1
    fi
}

install_apt() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # openvswitch-switch is only a source of test peers (ovs-vsctl); its own
    # daemons must not start, so service starts are refused while installing.
    local policy=/usr/sbin/policy-rc.d created=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=1
    fi
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    [ "$created" = 1 ] && rm -f "$policy"
    # Debian's packaged OVS must not hold the default run directory's sockets.
    if command -v service >/dev/null && [ -d /run/systemd/system ]; then
        systemctl disable --now openvswitch-switch >/dev/null 2>&1 || true
    fi
}

install_venv() {
    local py=python3
    if [ ! -x .venv/bin/python ]; then
        "$py" -m venv .venv
    fi
    local stamp=.venv/.installed
    if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ] \
        || [ -n "$(find appliance dpdk_glue ofproto ovsdb twisted_plugins -newer "$stamp" \
                    \( -name '*.py' -o -name '*.c' -o -name '*.h' \) -print -quit)" ]; then
        echo "bootstrap.sh: installing the project into ./.venv (log: .venv/install.log)" >&2
        # strict editable mode builds a link tree, so twisted_plugins/ is seen by
        # Twisted's plugin scan as twisted/plugins/ while sources stay editable.
        if ! { .venv/bin/pip install -q --upgrade pip \
               && .venv/bin/pip install -q -e '.[test]' --config-settings editable_mode=strict
             } > .venv/install.log 2>&1; then
            cat .venv/install.log >&2
            echo "bootstrap.sh: installation failed" >&2
            exit 1
        fi
        touch "$stamp"
    fi
}

ensure_hugepages() {
    # The datapath's vhost-user ports (and benchmarks) need shared hugepage memory:
    # reserve 2 MiB pages up to $1 and mount hugetlbfs where DPDK looks for it.
    local want=$1 have
    have=$(cat /proc/sys/vm/nr_hugepages)
    if [ "$have" -lt "$want" ]; then
        echo "$want" > /proc/sys/vm/nr_hugepages || true
    fi
    if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
        mkdir -p /dev/hugepages
        mount -t hugetlbfs nodev /dev/hugepages || true
    fi
}

need_root
install_apt
install_venv
ensure_hugepages "${VSW_HUGEPAGES:-1024}"

case "${1:-}" in
    run)
        shift
        # The whole appliance on OVS's default paths (/etc/openvswitch/conf.db,
        # /var/run/openvswitch), bridge br0 with two hosts in network namespaces
        # pinging each other, until Ctrl-C (appliance/demo.py).
        exec .venv/bin/python -m appliance.demo "$@"
        ;;
    test)
        shift
        # .venv/bin/pytest, not "python -m pytest": the latter puts the source tree
        # first on sys.path, ahead of the installed (compiled) dpdk_glue extension.
        exec .venv/bin/pytest "$@"
        ;;
    *)
        echo "usage: $0 run|test [args...]" >&2
        exit 2
        ;;
esac

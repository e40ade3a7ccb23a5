#!/usr/bin/env bash
# meshd's test command: installs what the tests need (Debian 12, as root),
# then runs every test of the workspace and builds the fuzz targets.
# Tests that need root (network namespaces, raw sockets, the batman-adv VM
# in ../shared/tools/batadv-vm, which installs its own packages) or tools
# that are missing say so and skip outside CI; under CI=true they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v tshark >/dev/null || need_pkgs+=(tshark)
command -v c++ >/dev/null || need_pkgs+=(g++)
command -v ping >/dev/null || need_pkgs+=(iputils-ping)
command -v ip >/dev/null || need_pkgs+=(iproute2)
command -v nft >/dev/null || need_pkgs+=(nftables)
if [ ${#need_pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
        # (a mirror syncing a foreign architecture's index is not fatal)
        apt-get update -q || echo "test.sh: apt-get update failed; going on with the indexes apt has"
        apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
    else
        echo "test.sh: not root, cannot install: ${need_pkgs[*]} (tests needing them will skip)"
    fi
fi

# Release build: the simulator tests run many cores for minutes of
# simulated time; debug builds would take far longer.
cargo test --workspace --release
# The OpenWrt package: feed Makefile, init and first-boot scripts, .ipk
# layout (files only; the .ipk part needs cross/out from cross/build).
bash openwrt/test.sh
# The fuzz targets live outside the workspace; make sure they still build.
cargo build --release --manifest-path fuzz/Cargo.toml --bins
# The README's demo: a small netns mesh of real meshd processes (needs
# root; it fails if the mesh does not form or a ping does not get through).
if [ "$(id -u)" = 0 ]; then
    bash scripts/demo.sh
else
    echo "test.sh: not root, skipping the netns demo (bash scripts/demo.sh)"
fi

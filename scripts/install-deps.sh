#!/usr/bin/env bash
# Installs the Debian packages zcluster builds with, when any is missing. Needs root (or sudo).
set -euo pipefail
packages=(build-essential cmake pkg-config python3
          libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libsodium-dev librocksdb-dev catch2
          libcli11-dev libpugixml-dev libfmt-dev nlohmann-json3-dev libzstd-dev
          libncurses-dev tmux libcpp-httplib-dev prometheus clang-format clang libclang-rt-14-dev
          iproute2 nftables logrotate libsystemd-dev help2man lintian fakeroot systemd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

#!/usr/bin/env bash
# Installs what socklb needs on a Debian machine, only where it is missing, then the npm
# dependencies and the build. Safe to run again: every step checks before it acts.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the BPF toolchain (clang, libbpf headers, bpftool for BTF checks),
# the network tools tests and the demo use (iproute2), and the bench baselines' firewalls and
# load balancers (iptables, nftables, conntrack; ipvsadm and ipset for IPVS where the kernel has it),
# and iperf3 for the bench's bulk throughput.
packages=(clang llvm libbpf-dev libbpf1 bpftool iproute2 iptables nftables conntrack ipvsadm ipset iperf3 linux-libc-dev gcc make ca-certificates)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# bpffs is where the agent pins maps and links; a fresh VM may not have it mounted.
if ! awk '$3=="bpf"{found=1} END{exit !found}' /proc/mounts; then
  mkdir -p /sys/fs/bpf
  mount -t bpf bpf /sys/fs/bpf
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build

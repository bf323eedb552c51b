#!/usr/bin/env bash
# Builds (once) a minimal Debian sid root with matrix-synapse installed, for the
# end-to-end tests. Debian 12 has no Synapse package; sid does. The root is a
# cache: reused across runs, rebuilt only when missing or incomplete.
#
# Usage: test/scripts/synapse-root.sh [ROOT_DIR]
#   ROOT_DIR defaults to <repo>/.cache/synapse-root (git-ignored).
# Prints the root's path on success.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
root=${1:-${SWITCHBOARD_SYNAPSE_ROOT:-$repo/.cache/synapse-root}}
stamp="$root/.switchboard-ready"

if [ -f "$stamp" ] && [ -x "$root/usr/bin/python3" ] && [ -d "$root/usr/lib/python3/dist-packages/synapse" ]; then
  echo "$root"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "synapse-root: building the Synapse root needs root (debootstrap, chroot)." >&2
  echo "  Either run as root, or point SWITCHBOARD_TEST_HS_URL and SWITCHBOARD_TEST_HS_SECRET at an existing homeserver." >&2
  exit 1
fi
command -v debootstrap >/dev/null || { echo "synapse-root: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }

# The mirror comes from this host's own apt sources (deb822 or one-line format),
# so the script works on any Debian-like machine without naming a host.
mirror=${SWITCHBOARD_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sources)
        cand=$(awk 'BEGIN{IGNORECASE=1} /^URIs:/{print $2}' "$f" | grep -E '/debian/?$' | head -n1 || true) ;;
      *)
        cand=$(awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}' "$f" | grep -E '/debian/?$' | head -n1 || true) ;;
    esac
    if [ -n "$cand" ]; then mirror=$cand; break; fi
  done
fi
[ -n "$mirror" ] || { echo "synapse-root: found no Debian mirror in /etc/apt/sources*; set SWITCHBOARD_DEBIAN_MIRROR" >&2; exit 1; }

echo "synapse-root: building $root from $mirror (debootstrap sid, then matrix-synapse)" >&2
rm -rf "$root"
mkdir -p "$(dirname "$root")"
debootstrap --variant=minbase sid "$root" "$mirror" >&2

mounted=0
cleanup() { if [ "$mounted" = 1 ]; then umount "$root/proc" 2>/dev/null || umount -l "$root/proc" 2>/dev/null || true; fi; }
trap cleanup EXIT
mount -t proc proc "$root/proc" && mounted=1

# The mirror is a frozen snapshot whose Release file has expired.
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -o Acquire::Check-Valid-Until=false update >&2
# policy-rc.d keeps the package from trying to start a service inside the root.
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod +x "$root/usr/sbin/policy-rc.d"
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Acquire::Check-Valid-Until=false \
  install --no-install-recommends matrix-synapse >&2
chroot "$root" apt-get clean >&2
touch "$stamp"
echo "$root"

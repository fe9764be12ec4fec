#!/usr/bin/env bash
# The README's promise, checked: on a fresh Debian root holding nothing but a clone of this repository (and
# g++ make cmake git ca-certificates), `make test` and `make demo` work. CI runs this (`.ci/run`).
#
# Usage: scripts/fresh-root-test.sh [--keep] [-- "make arguments"...]
#   default: "test" then "demo DEMO_ARGS='--epochs 1 --steps 40'" (the demo's path, shortened)
#   DUET_FRESH_ROOT_CACHE  where the bare root is cached between runs (default /var/cache/duet-fresh-root);
#                          the cache is rebuilt whenever this script, the mirror or the suite changes. The
#                          root's ccache directory is kept there too (ccache/).
# Needs root (debootstrap, chroot, mounts). Uses the Debian mirror apt is configured with on this machine.
# Fails loudly (non-zero exit, message on stderr) when the root cannot be built.
set -euo pipefail

die() { echo "fresh-root: FAILED: $*" >&2; exit 1; }
stamp() { date +%s; }
elapsed() { echo "$(( $(stamp) - $1 ))s"; }

keep=0
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep) keep=1 ;;
    --) shift; targets=("$@"); break ;;
    *) die "unknown argument '$1' (usage: $0 [--keep] [-- \"make arguments\"...])" ;;
  esac
  shift
done
[[ ${#targets[@]} -gt 0 ]] || targets=("test" "demo DEMO_ARGS='--epochs 1 --steps 40'")
[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chroot and bind mounts); run it as root or with sudo"

repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || die "not inside the duet git repository"
t_all=$(stamp)

# The tools this check needs on the host, from Debian's packages.
need=()
for p in debootstrap git; do command -v "$p" > /dev/null || need+=("$p"); done
if [[ ${#need[@]} -gt 0 ]]; then
  echo "fresh-root: installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -q > /dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" > /dev/null
fi

# The machine's own Debian mirror, as apt uses it (works for sources.list and deb822 .sources files).
# shellcheck disable=SC1091
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[[ -n "$suite" ]] || die "cannot tell the Debian suite from /etc/os-release"
arch=$(dpkg --print-architecture)
mirror=$(apt-cache policy | awk -v s="$suite/main" -v a="$arch" '$3 == s && $4 == a && $5 == "Packages" {print $2; exit}')
[[ -n "$mirror" ]] || die "no Debian mirror for $suite/main $arch in apt's configuration (apt-cache policy); configure apt first"
echo "fresh-root: Debian $suite ($arch) from $mirror"

cache=${DUET_FRESH_ROOT_CACHE:-/var/cache/duet-fresh-root}
key=$( (cat "$0"; echo "$mirror $suite $arch") | sha256sum | cut -c1-16)
tarball="$cache/root-$suite-$arch-$key.tar"
mkdir -p "$cache"

work=$(mktemp -d /var/tmp/duet-fresh-root.XXXXXX)
root="$work/root"
mounted=()
cleanup() {
  local rc=$?
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2> /dev/null || true; done
  # Never delete through a mount point that is still attached (that would reach the host's /dev or /proc).
  if grep -q " $work/" /proc/mounts; then
    echo "fresh-root: mounts under $work are still attached; leaving it in place" >&2
  elif [[ $keep -eq 1 ]]; then
    echo "fresh-root: kept $root"
  else
    rm -rf --one-file-system "$work"
  fi
  exit $rc
}
trap cleanup EXIT

t=$(stamp)
if [[ -f "$tarball" ]]; then
  mkdir -p "$root"
  tar -C "$root" -xf "$tarball" || die "cannot unpack the cached root $tarball"
  echo "fresh-root: bare root from the cache ($tarball) in $(elapsed "$t")"
else
  rm -f "$cache"/root-*.tar  # older roots (another script version or mirror)
  echo "fresh-root: building a minimal root with debootstrap (minbase + g++ make cmake git ca-certificates)"
  if ! debootstrap --variant=minbase --include=g++,make,cmake,git,ca-certificates "$suite" "$root" "$mirror" \
      > "$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap of $suite from $mirror did not complete (log above)"
  fi
  [[ -x "$root/usr/bin/g++" && -x "$root/usr/bin/cmake" && -x "$root/usr/bin/git" ]] || die "the new root lacks g++/cmake/git"
  tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball" || die "cannot write the cache $tarball"
  echo "fresh-root: bare root built and cached in $(elapsed "$t")"
fi

# Nothing but the repository: a clone of its committed state (what CI's clean clone holds).
git clone -q --no-local "$repo" "$root/src/duet" || die "cannot clone $repo into the root"
echo "fresh-root: cloned $(git -C "$root/src/duet" rev-parse --short HEAD)"

cp /etc/resolv.conf "$root/etc/resolv.conf"
# The machine's network trust, which every machine of this kind has before any project arrives: its extra
# CA certificates (PyPI may be reached through a proxy that signs with its own CA), the bundle made from them,
# and pip's machine-wide config pointing at that bundle. Only the trust is copied, not the host's packages.
if compgen -G "/usr/local/share/ca-certificates/*.crt" > /dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
[[ -f /etc/pip.conf ]] && cp /etc/pip.conf "$root/etc/pip.conf"
for m in proc sys dev dev/pts; do
  mkdir -p "$root/$m"
  case $m in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount -t sysfs sysfs "$root/sys" ;;
    dev) mount --bind /dev "$root/dev" ;;
    dev/pts) mount -t devpts devpts "$root/dev/pts" ;;
  esac
  mounted+=("$root/$m")
done
mkdir -p "$root/dev/shm"
mount -t tmpfs shm "$root/dev/shm" && mounted+=("$root/dev/shm")
# The root's compiler cache lives on the host between runs (ccache keys on the preprocessed sources, so a
# missing header still fails the build): a cold run compiles everything, later runs mostly hit the cache.
mkdir -p "$cache/ccache" "$root/root/.cache/ccache"
mount --bind "$cache/ccache" "$root/root/.cache/ccache" && mounted+=("$root/root/.cache/ccache")

rc=0
for target in "${targets[@]}"; do
  t=$(stamp)
  echo "fresh-root: make $target"
  if ! chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive /bin/bash -c "cd /src/duet && make $target"; then
    echo "fresh-root: make $target FAILED after $(elapsed "$t")" >&2
    rc=1
    break
  fi
  echo "fresh-root: make $target passed in $(elapsed "$t")"
done
echo "fresh-root: total $(elapsed "$t_all")"
[[ $rc -eq 0 ]] || die "a README command failed on the fresh root"
echo "fresh-root: PASSED"

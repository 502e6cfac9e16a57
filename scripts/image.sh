#!/usr/bin/env bash
# Builds stagedoor's container image without pulling anything (see Dockerfile):
#   1. a fully static release binary for this machine's architecture (glibc, crt-static);
#   2. the build context in target/image: rootfs/ (the binary, this machine's CA bundle,
#      deploy/image/{passwd,group,nsswitch.conf}, an empty /var/lib) and an empty data/;
#   3. with an engine named, the image itself.
#
#   scripts/image.sh                      # steps 1-2 only (then build it with any engine)
#   scripts/image.sh podman [TAG]         # podman build   -t TAG -f Dockerfile target/image
#   scripts/image.sh buildah [TAG]        # buildah bud    -t TAG -f Dockerfile target/image
#   scripts/image.sh docker [TAG]         # docker build   -t TAG -f Dockerfile target/image
#
# TAG defaults to stagedoor:latest. CA_BUNDLE overrides the CA certificates copied in
# (default: Debian's /etc/ssl/certs/ca-certificates.crt, from the ca-certificates package).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
engine="${1:-}"
tag="${2:-stagedoor:latest}"
ca_bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

host="$(rustc -vV | sed -n 's/^host: //p')"
case "$host" in
  *-linux-gnu) ;;
  *) echo "image: needs a *-linux-gnu Rust host to build a static glibc binary, not $host" >&2; exit 1 ;;
esac
# Older glibc needs its NSS modules (shared libraries) to resolve names, which the image lacks.
glibc="$(getconf GNU_LIBC_VERSION | awk '{print $2}')"
case "$glibc" in
  2.[0-9] | 2.[0-2][0-9] | 2.3[0-3]) echo "image: glibc $glibc cannot resolve names in a static binary; 2.34 or later is needed" >&2; exit 1 ;;
esac
[ -f "$ca_bundle" ] || { echo "image: no CA bundle at $ca_bundle (apt-get install ca-certificates, or set CA_BUNDLE)" >&2; exit 1; }

# crt-static links glibc (and its allocator, the same as in dynamic builds) into the binary.
# glibc >= 2.34 has its "files" and "dns" name services built in, so getaddrinfo (hyper's and
# sqlx's resolver) needs no NSS module at run time; deploy/image/nsswitch.conf picks them.
# getrandom 0.4 would look getrandom(2) up with dlsym, which a static binary cannot, and then
# fall back to /dev/urandom: linux_getrandom calls it directly.
# An explicit --target keeps RUSTFLAGS away from build scripts and proc macros (which cannot be
# static) and puts the output in target/$host/release, apart from the dynamic builds.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static --cfg getrandom_backend=\"linux_getrandom\"" \
  cargo build --release --locked --target "$host"
binary="target/$host/release/stagedoor"
if command -v readelf >/dev/null && readelf --program-headers "$binary" | grep -q INTERP; then
  echo "image: $binary is dynamically linked" >&2
  exit 1
fi

context=target/image
rm -rf "$context"
mkdir -p "$context/data" "$context/rootfs/var/lib"
install -D -m 0755 "$binary" "$context/rootfs/usr/local/bin/stagedoor"
install -D -m 0644 "$ca_bundle" "$context/rootfs/etc/ssl/certs/ca-certificates.crt"
install -m 0644 deploy/image/passwd deploy/image/group deploy/image/nsswitch.conf "$context/rootfs/etc/"
echo "image: build context ready in $context ($(du -sh "$context" | cut -f1))"

case "$engine" in
  "") ;;
  podman | docker) "$engine" build -t "$tag" -f Dockerfile "$context" ;;
  buildah) buildah bud -t "$tag" -f Dockerfile "$context" ;;
  *) echo "image: unknown engine '$engine' (podman, buildah or docker)" >&2; exit 1 ;;
esac

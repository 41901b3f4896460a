#!/usr/bin/env bash
# Podman helpers shared by deploy/image and deploy/image-test. Source this file; it only
# defines functions. Expects `repo`, `log` and `die` from the script sourcing it.

# Installs podman, runc and debootstrap when missing and points podman at the project's
# engine settings (deploy/podman/containers.conf: runc with cgroupfs, no default ulimits),
# which work on hosts where crun refuses the cgroup layout or limits cannot be set.
podman_setup() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if ((${#missing[@]})); then
    command -v apt-get >/dev/null || die "${missing[*]} missing and apt-get is not available"
    log "installing the Debian packages ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
      { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; } ||
      die "could not install ${missing[*]}"
  fi
  export CONTAINERS_CONF=$repo/deploy/podman/containers.conf
}

# True when podman can start a container here (the base image must exist).
podman_runs() {
  podman run --rm --network=host localhost/sitrep-debian:bookworm /bin/true >/dev/null 2>&1
}

# The libraries of the runtime base, from the Debian tree: what the `sitrep` binary links
# (deploy/image checks that it starts with nothing more).
runtime_files=(
  usr/lib64/ld-linux-x86-64.so.2
  usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
  usr/lib/x86_64-linux-gnu/libc.so.6
  usr/lib/x86_64-linux-gnu/libm.so.6
  usr/lib/x86_64-linux-gnu/libgcc_s.so.1
  usr/lib/x86_64-linux-gnu/libdl.so.2
  usr/lib/x86_64-linux-gnu/libpthread.so.0
  usr/lib/x86_64-linux-gnu/librt.so.1
  etc/ssl/certs/ca-certificates.crt
)

# Makes the base images when missing (or when SITREP_IMAGE_REBASE=1):
# localhost/sitrep-debian:bookworm and localhost/sitrep-runtime:bookworm.
image_bases() {
  if [[ ${SITREP_IMAGE_REBASE:-} != 1 ]] && podman image exists localhost/sitrep-debian:bookworm &&
    podman image exists localhost/sitrep-runtime:bookworm; then
    return 0
  fi
  local work tree runtime f
  work=$(mktemp -d /var/tmp/sitrep-image.XXXXXX)
  # A whole Debian tree: never left behind, whatever fails.
  trap "rm -rf -- '$work'" EXIT
  tree=$work/debian
  runtime=$work/runtime
  log "debootstrap: a minimal Debian 12 tree in $tree"
  debootstrap --variant=minbase --include=ca-certificates,gcc,libc6-dev,postgresql,haproxy \
    bookworm "$tree" "${SITREP_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  # Debian's packages started nothing inside the tree, but leave their caches.
  rm -rf "$tree"/var/cache/apt/archives/*.deb "$tree"/var/lib/apt/lists/*
  tar -C "$tree" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    - localhost/sitrep-debian:bookworm >/dev/null

  log "the runtime base: loader, glibc, libgcc_s, CA certificates, uid 65532"
  mkdir -p "$runtime"/{etc,tmp,var/lib,usr/lib/x86_64-linux-gnu,usr/lib64}
  chmod 1777 "$runtime/tmp"
  ln -s usr/lib "$runtime/lib"
  ln -s usr/lib64 "$runtime/lib64"
  for f in "${runtime_files[@]}"; do
    [[ -e $tree/$f ]] || die "$f is not in the Debian tree"
    mkdir -p "$runtime/$(dirname -- "$f")"
    cp -L "$tree/$f" "$runtime/$f"
  done
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$runtime/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$runtime/etc/group"
  printf 'hosts: files dns\n' >"$runtime/etc/nsswitch.conf"
  tar -C "$runtime" --numeric-owner --owner=0 --group=0 -c . | podman import \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'USER 65532:65532' \
    - localhost/sitrep-runtime:bookworm >/dev/null
  rm -rf "$work"
  trap - EXIT
}

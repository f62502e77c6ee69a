# registry-gc images.
#
# Targets:
#   runtime  FROM scratch: the static binary at /registry-gc, user 65534, ENTRYPOINT ["/registry-gc"].
#   ci       runtime + a static busybox (/bin/sh, grep, ...), for GitLab CI jobs: no ENTRYPOINT,
#            CMD ["registry-gc"], registry-gc on PATH (GitLab's Docker executor needs a shell).
#
# Where the binaries come from (build arg BINARY_SOURCE):
#   build     (default) compile the musl binary from source in RUST_IMAGE; busybox from Debian's
#             busybox-static. Needs network access to pull RUST_IMAGE and the Debian packages.
#   prebuilt  take PREBUILT_BINARY and PREBUILT_BUSYBOX from the build context (defaults
#             dist/registry-gc and dist/busybox). Nothing is pulled: builds offline, and it is how
#             this project's CI packs the exact binary its tests ran.
#
#   docker build --target runtime -t registry-gc .
#   buildah bud --build-arg BINARY_SOURCE=build --target runtime -t registry-gc .
#     (buildah 1.28 does not follow `FROM ${BINARY_SOURCE}` to the build stage when the value
#     is only the ARG's default: pass it explicitly; BuildKit and kaniko do not need it)
#   buildah bud --isolation chroot --storage-driver vfs --pull=never --target ci \
#       --build-arg BINARY_SOURCE=prebuilt -t registry-gc-ci .
#
# No provenance/SBOM attestations: build with BuildKit's --provenance=false --sbom=false (buildah
# and kaniko create none), so the pushed tags are plain image manifests that GitLab can read.

ARG RUST_IMAGE=docker.io/library/rust:1.95-bookworm
ARG BINARY_SOURCE=build

# ---------------------------------------------------------------- from source
FROM ${RUST_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends musl-tools busybox-static \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p registry-gc \
 && mkdir -p /out \
 && cp target/x86_64-unknown-linux-musl/release/registry-gc /out/registry-gc \
 && cp /bin/busybox /out/busybox

# ---------------------------------------------------------------- prebuilt, offline
FROM scratch AS prebuilt
ARG PREBUILT_BINARY=dist/registry-gc
ARG PREBUILT_BUSYBOX=dist/busybox
COPY ${PREBUILT_BINARY} /out/registry-gc
COPY ${PREBUILT_BUSYBOX} /out/busybox

# ---------------------------------------------------------------- both root filesystems
FROM ${BINARY_SOURCE} AS binaries

# Lays out both root filesystems with busybox itself, so this also works on top of `scratch`
# (exec form: buildah ignores SHELL in OCI format and scratch has no /bin/sh).
FROM binaries AS rootfs
RUN ["/out/busybox", "sh", "-euc", "\
  B=/out/busybox; \
  $B mkdir -p /rootfs/runtime/work /rootfs/runtime/tmp /rootfs/ci/bin /rootfs/ci/usr/local/bin; \
  $B cp /out/registry-gc /rootfs/runtime/registry-gc; \
  $B chmod 0755 /rootfs/runtime/registry-gc; \
  $B chown 65534:65534 /rootfs/runtime/work; \
  $B chmod 1777 /rootfs/runtime/tmp; \
  $B cp /out/busybox /rootfs/ci/bin/busybox; \
  $B chmod 0755 /rootfs/ci/bin/busybox; \
  for applet in $($B --list); do \
    [ -e /rootfs/ci/bin/$applet ] || $B ln -s busybox /rootfs/ci/bin/$applet; \
  done; \
  $B ln -s /registry-gc /rootfs/ci/usr/local/bin/registry-gc"]

# ---------------------------------------------------------------- runtime (scratch)
FROM scratch AS runtime
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://gitlab.com/registry-gc/registry-gc
ARG CREATED=1970-01-01T00:00:00Z
COPY --from=rootfs /rootfs/runtime/ /
LABEL org.opencontainers.image.title="registry-gc" \
      org.opencontainers.image.description="Garbage collector for GitLab container registries" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.url="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT"
USER 65534:65534
WORKDIR /work
ENTRYPOINT ["/registry-gc"]

# ---------------------------------------------------------------- ci (runtime + busybox)
FROM runtime AS ci
COPY --from=rootfs /rootfs/ci/ /
ENV PATH=/usr/local/bin:/bin
# GitLab's Docker executor passes `sh` as the command: with no ENTRYPOINT it just runs.
# `docker run <image>` alone still runs registry-gc.
ENTRYPOINT []
CMD ["registry-gc"]

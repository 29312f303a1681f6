#!/usr/bin/env bash
# The whole test suite: installs what the tests need on a fresh machine (FUSE 3, rsync, attr),
# checks formatting and lints, then runs every test, FUSE mounts included.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v getfattr >/dev/null 2>&1 || need+=(attr)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "${FLICKRFS_SKIP_FUSE_TESTS:-}" != 1 ]; then
  if [ ! -e /dev/fuse ] || ! command -v fusermount3 >/dev/null 2>&1; then
    echo "error: FUSE is unavailable (/dev/fuse or fusermount3 missing); set FLICKRFS_SKIP_FUSE_TESTS=1 to skip the mount tests" >&2
    exit 1
  fi
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
# Lints, tests and the soak all use the release profile: the build people run, compiled once
# (a debug build beside it compiled the dependencies twice, aws-lc's C included, and ran the
# mounts and mirrors under test about four times slower). With overflow checks, as a debug
# build has them: an arithmetic overflow fails the suite instead of wrapping unseen.
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
echo "== cargo clippy"
cargo clippy --release --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --release --all-targets -- --test-threads "${FLICKRFS_TEST_THREADS:-4}"
echo "== short soak"
scripts/soak.sh --short

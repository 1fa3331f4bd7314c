#!/usr/bin/env bash
# Node 24 LTS from the npm registry, for machines whose own Node is another version.
#
#   scripts/node24.sh                  prints the path of the Node 24 binary (fetching it first)
#   scripts/node24.sh <command> [...]  runs the command with that Node first on PATH, e.g.
#                                      `scripts/node24.sh npm run bench` or `… npx vitest run`
#
# The binary comes from the registry package node-linux-<arch> (a tarball with bin/node), fetched
# once with `npm pack` into .cache/ of the repository (gitignored). Only the registry is needed.
# The version is pinned so that CI runs are repeatable; S3RELAY_NODE24_VERSION overrides it.
set -euo pipefail

version=${S3RELAY_NODE24_VERSION:-24.22.3}
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *)
    echo "node24.sh: no node-linux package for $(uname -m)" >&2
    exit 1
    ;;
esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir="$root/.cache/node-$version-linux-$arch"
node="$dir/bin/node"

if [ ! -x "$node" ]; then
  mkdir -p "$root/.cache"
  work=$(mktemp -d "$root/.cache/node-download.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  echo "node24.sh: fetching node-linux-$arch@$version from the npm registry" >&2
  # npm's own output would mix with the path this script prints.
  npm pack --silent --pack-destination "$work" "node-linux-$arch@$version" >/dev/null
  tar -xzf "$work"/node-linux-"$arch"-*.tgz -C "$work" package/bin/node package/LICENSE
  # Another run may have fetched it meanwhile; either copy is the same file.
  mv -T "$work/package" "$dir" 2>/dev/null || true
fi

actual=$("$node" --version)
case "$actual" in
  v24.*) ;;
  *)
    echo "node24.sh: $node is $actual, not Node 24" >&2
    exit 1
    ;;
esac

if [ $# -eq 0 ]; then
  echo "$node"
else
  PATH="$dir/bin:$PATH" exec "$@"
fi

#!/usr/bin/env bash
# What `npm run bench` needs beyond `npm ci` and RabbitMQ: rclone, the ceiling that small-objects
# and resync compare with, installed from Debian's packages when it is missing. apt-get needs
# root (or sudo); without either this says so, and those benchmarks report rclone as not measured.
set -euo pipefail

if command -v rclone >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -q && apt-get install -y -q rclone
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo apt-get update -q && sudo apt-get install -y -q rclone
else
  echo "bench/setup.sh: rclone is missing and apt-get needs root; install the Debian package rclone" >&2
fi

#!/usr/bin/env bash
# The system packages the browser tests need (Debian): Chromium, driven by Playwright (never a
# downloaded browser), and a CJK font so that Chinese pages render. Installs only what is missing.
set -euo pipefail
missing=""
command -v chromium >/dev/null 2>&1 || missing="chromium"
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing="$missing fonts-noto-cjk"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "error: the browser tests need these Debian packages:$missing" >&2
    echo "install them as root: apt-get install -y$missing" >&2
    exit 1
fi
SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing

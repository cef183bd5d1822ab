#!/usr/bin/env bash
# What the browser tests need from Debian: Chromium, which Playwright drives as /usr/bin/chromium
# (no browser is downloaded), and a CJK font, without which the pages' Chinese shows as boxes in
# the screenshots. Installs whatever is missing (as root, or through sudo).
set -euo pipefail
packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || packages+=(fonts-noto-cjk)
if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo=sudo
fi
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
echo "installed: ${packages[*]}"

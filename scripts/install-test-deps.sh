#!/usr/bin/env bash
# System packages the test suite drives for real: ffmpeg/ffprobe, OBS Studio under Xvfb,
# nginx with the RTMP module, chromium (the panel's browser tests drive it through Playwright;
# no browser is downloaded), and the libraries OpenCV's GUI build needs. Debian/Ubuntu.
set -euo pipefail
PKGS=(ffmpeg obs-studio xvfb nginx libnginx-mod-rtmp chromium libgl1 libglib2.0-0 python3-venv)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system test dependencies present"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx is started by the tests with their own config, never as a system service
$SUDO systemctl disable --now nginx >/dev/null 2>&1 || $SUDO service nginx stop >/dev/null 2>&1 || true

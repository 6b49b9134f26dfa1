#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for building, testing and the demo:
# Chromium and Firefox ESR (the browsers the end-to-end tests drive) and, for the reference pipeline,
# Debian's PyTorch, torchvision, ONNX, PIL, NumPy and OpenCV (the published model's resize). Idempotent: installs only what is missing.
# Nothing here downloads a browser build or model weights; everything comes from apt.
set -euo pipefail

PY=/usr/bin/python3
need_pkgs=()

chrome_path() {
  for c in "${CHROME_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}

chrome_path >/dev/null || need_pkgs+=(chromium)

firefox_path() {
  for c in "${FIREFOX_PATH:-}" /usr/bin/firefox-esr /usr/bin/firefox; do
    if [ -n "$c" ] && [ -x "$c" ]; then echo "$c"; return 0; fi
  done
  return 1
}
firefox_path >/dev/null || need_pkgs+=(firefox-esr)
# Fonts for readable screenshots; the Chromium package pulls in only a minimal set.
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_pkgs+=(fonts-dejavu-core)
# exiftool writes the EXIF/XMP fixtures of the provenance tests (an independent writer).
command -v exiftool >/dev/null 2>&1 || need_pkgs+=(libimage-exiftool-perl)

if [ ! -x "$PY" ]; then
  need_pkgs+=(python3)
fi
py_has() { [ -x "$PY" ] && "$PY" -c "import $1" >/dev/null 2>&1; }
py_has torch || need_pkgs+=(python3-torch)
py_has torchvision || need_pkgs+=(python3-torchvision)
py_has onnx || need_pkgs+=(python3-onnx)
py_has PIL || need_pkgs+=(python3-pil)
py_has numpy || need_pkgs+=(python3-numpy)
py_has cv2 || need_pkgs+=(python3-opencv)

if [ ${#need_pkgs[@]} -eq 0 ]; then
  echo "setup: everything needed is installed (chromium: $(chrome_path), firefox: $(firefox_path))"
  exit 0
fi

echo "setup: missing: ${need_pkgs[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "setup: cannot install without root. Please run, as root:" >&2
  echo "  apt-get update && apt-get install -y ${need_pkgs[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
chrome_path >/dev/null || { echo "setup: chromium still not found" >&2; exit 1; }
firefox_path >/dev/null || { echo "setup: firefox still not found" >&2; exit 1; }
py_has torch && py_has torchvision && py_has onnx && py_has PIL && py_has cv2 || { echo "setup: Python packages still missing" >&2; exit 1; }
echo "setup: done (chromium: $(chrome_path), firefox: $(firefox_path))"

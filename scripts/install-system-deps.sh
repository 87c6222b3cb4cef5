#!/usr/bin/env bash
# Install the Debian packages a command needs, when they are missing.
#   install-system-deps.sh chromium                 what `make demo` needs: Chromium prints the report's PDF
#   install-system-deps.sh                          what `make test` needs: chromium, influxdb, poppler-utils
# Packages: chromium (PDF printing, browser tests), influxdb (Debian's influxd 1.x, a
# real InfluxQL server for the backend tests), poppler-utils (PDF pages to PNG).
set -euo pipefail

# The command each package provides: a package whose command is on PATH is not installed again.
declare -A COMMAND_OF=([chromium]=chromium [influxdb]=influxd [poppler-utils]=pdftoppm)

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(chromium influxdb poppler-utils)
need=()
for package in "${wanted[@]}"; do
    if [ -z "${COMMAND_OF[$package]:-}" ]; then
        echo "install-system-deps.sh: unknown package '$package' (known: ${!COMMAND_OF[*]})" >&2
        exit 2
    fi
    if [ "$package" = chromium ] && [ -n "${VIGILEOS_CHROMIUM:-}" ] && command -v "$VIGILEOS_CHROMIUM" >/dev/null 2>&1; then
        continue  # a Chromium or Chrome named by the setting prints the PDFs
    fi
    command -v "${COMMAND_OF[$package]}" >/dev/null 2>&1 || need+=("$package")
done
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing system packages: ${need[*]}. This machine has no apt-get: install them with its own" >&2
    echo "package manager (Chromium may also be named by VIGILEOS_CHROMIUM), then run the command again." >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "Missing system packages: ${need[*]}. Installing them needs root: run" >&2
    echo "  apt-get update && apt-get install -y ${need[*]}" >&2
    echo "as root, then run the command again." >&2
    exit 1
fi
echo "Installing system packages with apt-get: ${need[*]}"
"${SUDO[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${need[@]}" >/dev/null

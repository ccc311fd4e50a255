#!/usr/bin/env bash
# Prepares a Linux GPU machine for sd-trainer: checks the NVIDIA driver and Java 17+, downloads
# libtorch for CUDA once into a cache, and prints the variables that point the engine at it.
#
#   eval "$(scripts/setup-gpu-box.sh)"                 # check, download once, export the variables
#   scripts/setup-gpu-box.sh --install-java            # also apt-get a JRE 17 when none is found
#
# Messages go to stderr; stdout carries only the export lines, so eval picks up nothing else.
set -euo pipefail

LIBTORCH_VERSION="${LIBTORCH_VERSION:-2.7.1}"
CUDA_FLAVOR="${CUDA_FLAVOR:-cu128}"
LIBTORCH_URL="${LIBTORCH_URL:-https://download.pytorch.org/libtorch/${CUDA_FLAVOR}/libtorch-cxx11-abi-shared-with-deps-${LIBTORCH_VERSION}%2B${CUDA_FLAVOR}.zip}"
CACHE_DIR="${SD_TRAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sd-trainer}"
JAVA_MIN=17
JRE_PACKAGE="${JRE_PACKAGE:-openjdk-17-jre-headless}"
INSTALL_JAVA=0
CHECK_GPU=1

usage() {
    cat >&2 <<EOF
usage: $0 [--install-java] [--no-gpu-check] [--cache DIR]
  --install-java   install $JRE_PACKAGE with apt-get when no Java $JAVA_MIN+ is found (needs root or sudo)
  --no-gpu-check   do not require nvidia-smi (e.g. to fill the cache on a machine without a GPU)
  --cache DIR      where libtorch is kept (default: $CACHE_DIR; or set SD_TRAINER_CACHE)
EOF
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --install-java) INSTALL_JAVA=1 ;;
        --no-gpu-check) CHECK_GPU=0 ;;
        --cache) CACHE_DIR="${2:?--cache needs a directory}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "setup-gpu-box: unknown option '$1'" >&2; usage; exit 2 ;;
    esac
    shift
done

say() { echo "setup-gpu-box: $*" >&2; }
die() { say "$*"; exit 1; }

check_gpu() {
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        die "nvidia-smi not found: install the NVIDIA driver, or pass --no-gpu-check"
    fi
    local gpus
    if ! gpus="$(nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader 2>&1)"; then
        die "nvidia-smi failed: $gpus"
    fi
    while IFS= read -r line; do say "GPU $line"; done <<< "$gpus"
}

# Major version of the java on PATH, or nothing when there is none.
java_major() {
    command -v java >/dev/null 2>&1 || return 0
    # First line is e.g. 'openjdk version "17.0.12" 2024-07-16' or 'java version "1.8.0_412"'.
    java -version 2>&1 | sed -n '1s/.*version "\([0-9][0-9.]*\).*/\1/p' | awk -F. '{ print ($1 == 1 ? $2 : $1) }'
}

check_java() {
    local major
    major="$(java_major)"
    if [[ -n "$major" && "$major" -ge "$JAVA_MIN" ]]; then
        say "Java $major at $(command -v java)"
        return
    fi
    local found="${major:+Java $major is too old}"
    found="${found:-no java on PATH}"
    if [[ "$INSTALL_JAVA" -ne 1 ]]; then
        die "$found; sd-trainer needs Java $JAVA_MIN+. Install one, or rerun with --install-java"
    fi
    command -v apt-get >/dev/null 2>&1 || die "$found, and there is no apt-get here; install Java $JAVA_MIN+ yourself"
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "$found; installing $JRE_PACKAGE needs root or sudo"
        sudo=(sudo)
    fi
    say "$found; installing $JRE_PACKAGE"
    "${sudo[@]}" apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q "$JRE_PACKAGE" >&2
    major="$(java_major)"
    [[ -n "$major" && "$major" -ge "$JAVA_MIN" ]] || die "installed $JRE_PACKAGE, but java on PATH is still not $JAVA_MIN+"
    say "Java $major at $(command -v java)"
}

download() {
    local url="$1" target="$2"
    if command -v curl >/dev/null 2>&1; then
        curl -fL --retry 3 -C - -o "$target" "$url" >&2
    elif command -v wget >/dev/null 2>&1; then
        wget -c -O "$target" "$url" >&2
    else
        die "neither curl nor wget is installed; install one of them"
    fi
}

unpack() {
    local zip="$1" into="$2"
    if command -v unzip >/dev/null 2>&1; then
        unzip -q "$zip" -d "$into"
    elif command -v python3 >/dev/null 2>&1; then
        python3 -m zipfile -e "$zip" "$into"
    else
        die "neither unzip nor python3 is installed; install unzip"
    fi
}

# Downloads and unpacks libtorch unless the cache already holds a complete copy; prints its lib/ directory.
fetch_libtorch() {
    local home="$CACHE_DIR/libtorch-${LIBTORCH_VERSION}-${CUDA_FLAVOR}"
    local lib="$home/libtorch/lib"
    if [[ -f "$home/.complete" && -d "$lib" ]]; then
        say "libtorch ${LIBTORCH_VERSION}+${CUDA_FLAVOR} already in $home"
        echo "$lib"
        return
    fi
    mkdir -p "$CACHE_DIR"
    local zip="$CACHE_DIR/libtorch-${LIBTORCH_VERSION}-${CUDA_FLAVOR}.zip"
    say "downloading $LIBTORCH_URL (about 3 GB) to $zip"
    download "$LIBTORCH_URL" "$zip.part"
    mv "$zip.part" "$zip"
    # Unpack next to the final place and rename, so an interrupted run never looks complete.
    rm -rf "$home" "$home.tmp"
    mkdir -p "$home.tmp"
    unpack "$zip" "$home.tmp"
    if [[ ! -f "$home.tmp/libtorch/lib/libtorch_cuda.so" ]]; then
        rm -rf "$home.tmp" "$zip"
        die "$LIBTORCH_URL has no libtorch/lib/libtorch_cuda.so: not a CUDA libtorch; check LIBTORCH_URL"
    fi
    mv "$home.tmp" "$home"
    touch "$home/.complete"
    rm -f "$zip"
    say "libtorch unpacked to $home"
    echo "$lib"
}

if [[ "$CHECK_GPU" -eq 1 ]]; then check_gpu; fi
check_java
lib="$(fetch_libtorch)"

printf 'export PYTORCH_LIBRARY_PATH=%q\n' "$lib"
printf 'export PYTORCH_FLAVOR=%q\n' "$CUDA_FLAVOR"
if [[ -t 1 ]]; then
    say "run the two lines above, or next time: eval \"\$($0)\""
fi
say "then: java -jar target/sd-trainer.jar --config my.yaml --device cuda --dry_run"

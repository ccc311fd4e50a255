#!/usr/bin/env bash
# Continues a run from the training state that --save_state wrote (<output>-state/), with the run's own config.
# scripts/resume.sh runs/lora-state                 continue where it stopped
# scripts/resume.sh runs/lora-state --epochs 30     train longer (the lr schedule stretches to the new length)
set -euo pipefail

STATE="${1:?usage: scripts/resume.sh STATE_DIR [options...]}"
shift
DEVICE="${DEVICE:-cuda}"
JAR="${JAR:-target/sd-trainer.jar}"
JAVA_OPTS="${JAVA_OPTS:-}"

# a save killed between its two renames leaves the complete state beside the name
[[ -f "$STATE/config.yaml" || ! -f "$STATE.old/config.yaml" ]] || STATE="$STATE.old"
[[ -f "$STATE/config.yaml" ]] || { echo "resume: $STATE is not a training state (no config.yaml)" >&2; exit 2; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."
# shellcheck source=SCRIPTDIR/lib/run-trainer.bash
source "$here/lib/run-trainer.bash"
exec_jar resume --config "$STATE/config.yaml" --resume "$STATE" --device "$DEVICE" --save_state "$@"

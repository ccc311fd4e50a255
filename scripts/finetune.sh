#!/usr/bin/env bash
# Fine-tunes the full model (no adapter): the original sd-trainer's train.sh with every setting in one place.
# Edit the values below, or set any of them in the environment: EPOCHS=5 scripts/finetune.sh
# Further options go after the script's name: scripts/finetune.sh --prompt "a watercolor landscape"
set -euo pipefail

MODEL="${MODEL:-/path/to/stable-diffusion-v1-5}"   # diffusers directory
DATASET="${DATASET:-/path/to/dataset}"
OUTPUT="${OUTPUT:-runs/finetune}"                    # a diffusers directory is written here
IMAGE_LOG="${IMAGE_LOG:-runs/finetune/images}"
RESOLUTION="${RESOLUTION:-512,512}"
BATCH_SIZE="${BATCH_SIZE:-4}"
LR="${LR:-5e-6}"                                     # or TE_LR,UNET_LR
LR_SCHEDULER="${LR_SCHEDULER:-constant}"
EPOCHS="${EPOCHS:-20}"
SAVE_N_EPOCHS="${SAVE_N_EPOCHS:-5}"
TRAIN_ENCODER="${TRAIN_ENCODER:-0}"                  # 1 = also train the text encoder
UP_ONLY="${UP_ONLY:-0}"                              # 1 = train only the UNet's up blocks
V_PREDICTION="${V_PREDICTION:-0}"                    # 1 for SD 2.x 768-v models
USE_BUCKET="${USE_BUCKET:-0}"                        # 1 = preprocessed buckets and latents
AMP="${AMP:-1}"
GRADIENT_CHECKPOINTING="${GRADIENT_CHECKPOINTING:-1}"
SAVE_PRECISION="${SAVE_PRECISION:-fp16}"
SEED="${SEED:-4545}"
DEVICE="${DEVICE:-cuda}"
WANDB="${WANDB:-0}"                                  # 1 = upload to Weights & Biases (see README)
JAR="${JAR:-target/sd-trainer.jar}"
JAVA_OPTS="${JAVA_OPTS:-}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."
# shellcheck source=SCRIPTDIR/lib/run-trainer.bash
source "$here/lib/run-trainer.bash"
run_trainer finetune --lora 0 "$(flag up_only "$UP_ONLY")" "$(flag v_prediction "$V_PREDICTION")" "$@"

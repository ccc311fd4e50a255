#!/usr/bin/env bash
# Trains a LoRA: the original sd-trainer's train.sh with every setting in one place.
# Edit the values below, or set any of them in the environment: EPOCHS=5 scripts/train-lora.sh
# Further options go after the script's name: scripts/train-lora.sh --prompt "a photo of sks dog"
set -euo pipefail

MODEL="${MODEL:-/path/to/stable-diffusion-v1-5}"   # diffusers directory
DATASET="${DATASET:-/path/to/dataset}"
OUTPUT="${OUTPUT:-runs/lora}"
IMAGE_LOG="${IMAGE_LOG:-runs/lora/images}"
RESOLUTION="${RESOLUTION:-512,512}"
BATCH_SIZE="${BATCH_SIZE:-4}"
LR="${LR:-1e-4}"                                     # or TE_LR,UNET_LR
LR_SCHEDULER="${LR_SCHEDULER:-cosine}"
EPOCHS="${EPOCHS:-20}"
SAVE_N_EPOCHS="${SAVE_N_EPOCHS:-5}"
LORA="${LORA:-4}"                                    # adapter rank
LORA_ALPHA="${LORA_ALPHA:-1}"
NETWORK="${NETWORK:-lora}"                           # lora or eh
TRAIN_ENCODER="${TRAIN_ENCODER:-1}"                  # 1 = also train the text encoder
USE_BUCKET="${USE_BUCKET:-0}"                        # 1 = preprocessed buckets and latents
AMP="${AMP:-1}"
GRADIENT_CHECKPOINTING="${GRADIENT_CHECKPOINTING:-0}"
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
run_trainer train-lora --lora "$LORA" --lora_alpha "$LORA_ALPHA" --network "$NETWORK" "$@"

#!/usr/bin/env bash
# Prepares one dataset for `--use_bucket` (and `--mask`) training, step by step:
#   bucketing -> captions (tagger, or tagger + danbooru metadata) -> latents -> face masks.
# Every setting is below; each can also be given as an environment variable of the same name,
# e.g. INPUT_DIR=/data/raw DATASET_DIR=/data/set MODEL=/models/sd15 ./preprocess/prepare-dataset.sh
# See preprocess/README.md for what each step writes.
set -euo pipefail

# --- settings -------------------------------------------------------------------------------
JAR="${JAR:-target/sd-trainer.jar}"            # built by `mvn -B package -DskipTests`
JAVA="${JAVA:-java}"
JAVA_HEAP="${JAVA_HEAP:-8g}"                    # -Xmx for every step
INPUT_DIR="${INPUT_DIR:-/data/raw}"             # source images (+ optional <stem>.txt/.json metadata)
DATASET_DIR="${DATASET_DIR:-/data/dataset}"     # the training folder this script fills
MODEL="${MODEL:-/models/stable-diffusion-v1-5}" # diffusers model whose VAE encodes the latents
# Captions: "tagger"   = WD14 tags only (<stem>.caption);
#           "metadata" = tagger field added to danbooru metadata, then `caption` (quality, rating, characters ...);
#           "keep"     = <stem>.caption files already beside the source images (bucketing copies them).
CAPTIONS="${CAPTIONS:-tagger}"
TAGGER_MODEL="${TAGGER_MODEL:-/models/wd-v1-4-vit-tagger-v2}" # model.onnx + selected_tags.csv
TAGGER_THRESHOLD="${TAGGER_THRESHOLD:-0.35}"
TAGGER_BATCH_SIZE="${TAGGER_BATCH_SIZE:-64}"
EXCLUDE_TAGS="${EXCLUDE_TAGS:-}"                # optional file of tags `caption` leaves out
RESOLUTION="${RESOLUTION:-768}"                 # bucket area = RESOLUTION^2
MIN_LENGTH="${MIN_LENGTH:-512}"
MAX_LENGTH="${MAX_LENGTH:-1024}"
MAX_RATIO="${MAX_RATIO:-2.0}"
LATENT_BATCH_SIZE="${LATENT_BATCH_SIZE:-10}"
LATENT_MODE="${LATENT_MODE:-sample}"            # sample (as the original) or mean
DEVICE="${DEVICE:-}"                            # cpu, cuda, cuda:N; empty = first GPU if any
MASKS="${MASKS:-yes}"                           # yes = write face masks for --mask
CASCADE="${CASCADE:-lbpcascade_animeface.xml}"  # from github.com/nagadomi/lbpcascade_animeface
SCALE_FACTOR="${SCALE_FACTOR:-8}"               # VAE downsampling factor: 8 for Stable Diffusion
THREADS="${THREADS:-$(nproc)}"
# ----------------------------------------------------------------------------------------------

preprocess() {
    "$JAVA" "-Xmx$JAVA_HEAP" -jar "$JAR" preprocess "$@"
}

step() {
    printf '\n== %s ==\n' "$1" >&2
}

[[ -f "$JAR" ]] || { echo "prepare-dataset: $JAR not found; run: mvn -B package -DskipTests" >&2; exit 2; }
[[ -d "$INPUT_DIR" ]] || { echo "prepare-dataset: INPUT_DIR $INPUT_DIR is not a directory" >&2; exit 2; }
[[ -d "$MODEL" ]] || { echo "prepare-dataset: MODEL $MODEL is not a directory" >&2; exit 2; }
device_args=()
if [[ -n "$DEVICE" ]]; then
    device_args=(--device "$DEVICE")
fi

step "1/4 bucketing: $INPUT_DIR -> $DATASET_DIR"
preprocess bucketing --input_dir "$INPUT_DIR" --output_dir "$DATASET_DIR" --resolution "$RESOLUTION" \
    --min_length "$MIN_LENGTH" --max_length "$MAX_LENGTH" --max_ratio "$MAX_RATIO" --threads "$THREADS"

case "$CAPTIONS" in
    tagger)
        step "2/4 tagger: <stem>.caption"
        preprocess tagger --directory "$DATASET_DIR" --output_path "$DATASET_DIR" --model "$TAGGER_MODEL" \
            --threshold "$TAGGER_THRESHOLD" --batch_size "$TAGGER_BATCH_SIZE" --format caption \
            --caption_extension .caption --threads "$THREADS"
        ;;
    metadata)
        step "2/4 tagger (metadata) + caption: <stem>.caption"
        # Tagged beside the source images, where the metadata (<stem>.json or .txt) is; written into the dataset.
        preprocess tagger --directory "$INPUT_DIR" --output_path "$DATASET_DIR" --model "$TAGGER_MODEL" \
            --threshold "$TAGGER_THRESHOLD" --batch_size "$TAGGER_BATCH_SIZE" --format metadata --threads "$THREADS"
        caption_args=(--dataset "$DATASET_DIR" --threads "$THREADS")
        if [[ -n "$EXCLUDE_TAGS" ]]; then
            caption_args+=(--exclude_tags "$EXCLUDE_TAGS")
        fi
        preprocess caption "${caption_args[@]}"
        ;;
    keep)
        step "2/4 captions: keeping the copied <stem>.caption files"
        ;;
    *)
        echo "prepare-dataset: CAPTIONS must be tagger, metadata or keep, got '$CAPTIONS'" >&2
        exit 2
        ;;
esac

step "3/4 latent: <stem>.npy"
preprocess latent --directory "$DATASET_DIR" --output_path "$DATASET_DIR" --model "$MODEL" \
    --batch_size "$LATENT_BATCH_SIZE" --mode "$LATENT_MODE" --threads "$THREADS" "${device_args[@]}"

if [[ "$MASKS" == yes ]]; then
    step "4/4 create-mask: <stem>.npz"
    preprocess create-mask --path "$DATASET_DIR" --output_path "$DATASET_DIR" --cascade "$CASCADE" \
        --scale_factor "$SCALE_FACTOR" --threads "$THREADS"
else
    step "4/4 create-mask: skipped (MASKS=$MASKS)"
fi

printf '\nprepare-dataset: %s is ready: train with --dataset %s --use_bucket%s\n' \
    "$DATASET_DIR" "$DATASET_DIR" "$([[ "$MASKS" == yes ]] && echo ' --mask')" >&2

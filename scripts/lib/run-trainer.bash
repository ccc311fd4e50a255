# Shared by train-lora.sh, finetune.sh and resume.sh, sourced after their settings (whose variables it reads).
# shellcheck shell=bash disable=SC2154

# --name when the value is 1, --no-name otherwise.
flag() { if [[ "$2" == 1 ]]; then echo "--$1"; else echo "--no-$1"; fi; }

# exec_jar NAME ARGS...: checks the jar, sets up libtorch for CUDA when needed, and replaces the shell with the
# tool run with ARGS (and JAVA_OPTS).
exec_jar() {
    local name="$1"
    shift
    [[ -f "$JAR" ]] || { echo "$name: $JAR not found; build it with: mvn -B package -DskipTests" >&2; exit 1; }
    if [[ "$DEVICE" == cuda* && -z "${PYTORCH_LIBRARY_PATH:-}" ]]; then
        eval "$("$(dirname "${BASH_SOURCE[0]}")/../setup-gpu-box.sh")"
    fi
    local java_opts
    read -r -a java_opts <<< "$JAVA_OPTS"
    exec java "${java_opts[@]}" -jar "$JAR" "$@"
}

# run_trainer NAME ARGS...: the trainer with the options every training script sets, followed by ARGS.
run_trainer() {
    local name="$1"
    shift
    local common=(
        --model "$MODEL" --dataset "$DATASET" --output "$OUTPUT" --image_log "$IMAGE_LOG"
        --resolution "$RESOLUTION" --batch_size "$BATCH_SIZE" --lr "$LR" --lr_scheduler "$LR_SCHEDULER"
        --epochs "$EPOCHS" --save_n_epochs "$SAVE_N_EPOCHS"
        "$(flag train_encoder "$TRAIN_ENCODER")" "$(flag use_bucket "$USE_BUCKET")" "$(flag amp "$AMP")"
        "$(flag gradient_checkpointing "$GRADIENT_CHECKPOINTING")" "$(flag wandb "$WANDB")"
        --save_precision "$SAVE_PRECISION" --seed "$SEED" --device "$DEVICE"
    )
    exec_jar "$name" "${common[@]}" "$@"
}

package sdtrainer.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.network.LoraNetwork;

/**
 * What a LoRA rank costs on a model, known before any weight is loaded: a rank-1 LoRA over the model's empty
 * modules gives the parameters per unit of rank (LoRA sizes grow linearly with it) and the widest layer it wraps.
 *
 * @param perRank     adapter parameters per unit of rank
 * @param widest      the largest min(in, out) of a wrapped layer: a higher rank adds nothing to any layer
 * @param widestLayer the kohya name of that layer
 * @param modelBytes  the base model's float32 weights
 */
record LoraBudget(long perRank, long widest, String widestLayer, long modelBytes) {
    /** Bytes per adapter parameter while training: float32 weight, gradient and AdamW's two moments. */
    static final int TRAINING_BYTES_PER_PARAMETER = 4 * 4;

    /** Measures a LoRA over {@code unet} (and {@code te} when it is adapted too; null otherwise); modules stay empty. */
    static LoraBudget of(UNet2DConditionModel unet, ClipTextModel te, boolean upOnly, long modelParameters) {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            LoraNetwork one = LoraNetwork.create(unet, te, 1, 1, upOnly, m, 0);
            long perRank = 0;
            long widest = 0;
            String widestLayer = "";
            for (Map<String, NDArray> group : java.util.List.of(one.teParameters(), one.unetParameters())) {
                for (Map.Entry<String, NDArray> e : group.entrySet()) {
                    perRank += e.getValue().size();
                    if (!e.getKey().endsWith(".lora_down.weight")) continue;
                    String module = e.getKey().substring(0, e.getKey().length() - ".lora_down.weight".length());
                    long in = e.getValue().size();
                    long out = group.get(module + ".lora_up.weight").size();
                    if (Math.min(in, out) > widest) {
                        widest = Math.min(in, out);
                        widestLayer = module;
                    }
                }
            }
            return new LoraBudget(perRank, widest, widestLayer, modelParameters * 4);
        }
    }

    /** Bytes the adapter of {@code rank} needs while training. */
    long trainingBytes(int rank) {
        return (long) rank * perRank * TRAINING_BYTES_PER_PARAMETER;
    }

    /**
     * Why {@code rank} cannot train here, if it cannot: above the widest wrapped layer, or more memory for the
     * model and the adapter than {@code availableBytes} (negative: unknown, not checked).
     */
    Optional<String> problem(int rank, long availableBytes, String memory) {
        if (rank > widest) {
            return Optional.of(String.format(Locale.ROOT, "--lora %d is larger than the widest layer the LoRA wraps "
                    + "(%d features, %s): a higher rank adds nothing; give --lora %d or less (4 to 128 is usual)",
                    rank, widest, widestLayer, widest));
        }
        long needed = trainingBytes(rank) + modelBytes;
        if (availableBytes >= 0 && needed > availableBytes) {
            return Optional.of(String.format(Locale.ROOT, "--lora %d needs about %s (%,d adapter parameters with their "
                    + "gradients and AdamW state, %s) beside the %s model, but %s has %s available; give a smaller rank",
                    rank, gib(needed), rank * perRank, gib(trainingBytes(rank)), gib(modelBytes), memory, gib(availableBytes)));
        }
        return Optional.empty();
    }

    /** Memory free for a run on {@code device}: MemAvailable on CPU (Linux), free device memory on GPU; -1 if unknown. */
    static long availableBytes(Device device) {
        if (device.isGpu()) {
            java.lang.management.MemoryUsage usage = ai.djl.util.cuda.CudaUtils.getGpuMemory(device);
            return usage.getMax() > 0 ? usage.getMax() - usage.getUsed() : -1;
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
    }
}

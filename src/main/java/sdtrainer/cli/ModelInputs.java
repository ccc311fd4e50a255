package sdtrainer.cli;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import sdtrainer.network.Network;
import sdtrainer.nn.Module;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Parameter;
import sdtrainer.pipeline.DiffusionModel;
import sdtrainer.pipeline.ModelDirectory;
import sdtrainer.pipeline.ModelSource;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.pipeline.StableDiffusionXL;

/** Loading what the user named on the command line: any defect is an {@link InputException} (exit code 2). */
final class ModelInputs {
    private ModelInputs() {}

    /** The model's weights, every one of them finite: NaN or Inf in a checkpoint would spoil the run at step 1. */
    static StableDiffusion load(ModelSource source, Device device) throws InputException {
        try {
            return finite(StableDiffusion.load(source, device));
        } catch (IOException | RuntimeException e) {
            throw new InputException("--model " + e.getMessage(), e);
        }
    }

    /** As {@link #load}, for any family training knows: an SDXL diffusers folder loads as SDXL. */
    static DiffusionModel loadAnyFamily(ModelSource source, Device device) throws InputException {
        try {
            if (!source.isSdxl()) return load(source, device);
            return finite(StableDiffusionXL.load(source, device));
        } catch (IOException | RuntimeException e) {
            throw new InputException("--model " + e.getMessage(), e);
        }
    }

    private static <T extends DiffusionModel> T finite(T sd) throws InputException {
        Map<String, Module> parts = new LinkedHashMap<>(sd.textEncoders());
        parts.put("unet", sd.unet());
        parts.put("vae", sd.vae());
        List<String> broken = nonFinite(parts);
        if (!broken.isEmpty()) {
            sd.close();
            throw new InputException("--model " + sd.directory() + ": " + broken.size() + " weight tensor(s) hold NaN or Inf, the "
                    + "checkpoint is broken: " + String.join(", ", broken.subList(0, Math.min(10, broken.size())))
                    + (broken.size() > 10 ? ", ..." : ""));
        }
        return sd;
    }

    /** Names ({@code component/key}) of the parameters holding a NaN or an infinity. */
    static List<String> nonFinite(Map<String, Module> components) {
        List<String> out = new ArrayList<>();
        try (NoGrad ignored = new NoGrad()) {
            components.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(c -> {
                for (Map.Entry<String, Parameter> p : c.getValue().namedParameters().entrySet()) {
                    try (NDScope scope = new NDScope()) {
                        NDArray w = p.getValue().get();
                        if (w.isNaN().logicalOr(w.isInfinite()).any().getBoolean()) out.add(c.getKey() + "/" + p.getKey());
                    }
                }
            });
        }
        return out;
    }

    /** The adapter file of {@code option} ({@code --lora}), applied to {@code sd} with {@code scale}; attached. */
    static Network adapter(String option, Path file, StableDiffusion sd, double scale) throws InputException {
        requireFile(option, file, "the LoRA or EH file (.safetensors)");
        try {
            Network n = Network.load(file, sd, scale, sd.manager());
            n.attach();
            return n;
        } catch (IOException | IllegalArgumentException e) {
            throw new InputException(option + " " + e.getMessage(), e);
        }
    }

    static void requireFile(String option, Path file, String what) throws InputException {
        if (!Files.isRegularFile(file)) {
            throw new InputException(option + " " + file + ": " + (Files.isDirectory(file) ? "is a directory" : "no such file")
                    + "; give " + what);
        }
    }
}

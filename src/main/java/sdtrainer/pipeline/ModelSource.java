package sdtrainer.pipeline;

import sdtrainer.io.SafeTensors;
import sdtrainer.pipeline.format.ModelFamily;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * What {@code --model} names and how to read it: a diffusers folder, or an original-layout single
 * {@code .safetensors} file whose configs come from {@code --model_config} or from the shipped ones
 * ({@link ShippedConfigs}); {@code vPrediction} (the user's explicit choice, if any) picks between SD 2.x's
 * 512 epsilon and 768 v-prediction configs, which its files cannot tell apart.
 */
public record ModelSource(Path model, Optional<Path> modelConfig, Optional<Boolean> vPrediction) {

    public static ModelSource of(Path model) {
        return new ModelSource(model, Optional.empty(), Optional.empty());
    }

    /** True for a single file, false for a diffusers folder. */
    public boolean singleFile() {
        return !Files.isDirectory(model);
    }

    /**
     * The one-line usage problem with this source, checked from names and the file header only, or empty when it
     * can be loaded: a missing path, a pickle checkpoint, a family we cannot load, an SD 2.x file without a
     * prediction type.
     */
    public Optional<String> problem() {
        return problem(true);
    }

    /** As {@link #problem()}; {@code predictionNeeded} false for uses that read no UNet (the VAE alone). */
    public Optional<String> problem(boolean predictionNeeded) {
        if (!Files.exists(model)) {
            return Optional.of("--model " + model + ": no such directory or file; give a diffusers model folder or a single .safetensors file");
        }
        if (!singleFile()) {
            if (!Files.isDirectory(model.resolve(ModelDirectory.UNET))) {
                return Optional.of("--model " + model + ": has no unet/ folder; give a model in diffusers layout or a single .safetensors file");
            }
            if (modelConfig.isPresent()) {
                return Optional.of("--model_config is for single-file models; " + model + " is a diffusers folder with its own configs");
            }
            return Optional.empty();
        }
        String name = model.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".ckpt") || name.endsWith(".pt") || name.endsWith(".pth") || name.endsWith(".bin")) {
            return Optional.of("--model " + model + ": a pickle checkpoint, which can run arbitrary code when loaded and is not read;"
                    + " convert it to .safetensors first (e.g. in Python: safetensors.torch.save_file(torch.load(f, weights_only=True)"
                    + "['state_dict'], 'model.safetensors'))");
        }
        if (!name.endsWith(".safetensors")) {
            return Optional.of("--model " + model + ": not a .safetensors file; give a single .safetensors checkpoint or a diffusers folder");
        }
        if (modelConfig.isPresent()) {
            Path c = modelConfig.get();
            if (!Files.isDirectory(c.resolve(ModelDirectory.UNET))) {
                return Optional.of("--model_config " + c + ": has no unet/config.json; give a diffusers folder whose configs describe the model");
            }
            return Optional.empty();
        }
        try {
            ModelFamily family = family();
            if (predictionNeeded && family == ModelFamily.SD2 && vPrediction.isEmpty()) {
                return Optional.of("--model " + model + " is an SD 2.x file, which does not record what the model predicts:"
                        + " give --v_prediction for the 768 models (SD 2.0/2.1 768-v) or --no-v_prediction for the 512 base"
                        + " models (epsilon), or --model_config DIR");
            }
        } catch (IOException e) {
            return Optional.of("--model " + e.getMessage());
        }
        return Optional.empty();
    }

    /** Fails with the {@link #problem()} as an IOException. */
    void requireUsable(boolean predictionNeeded) throws IOException {
        Optional<String> p = problem(predictionNeeded);
        if (p.isPresent()) throw new IOException(p.get());
    }

    /** Whether this is an SDXL model: a folder with a second text encoder, or a single file of SDXL's layout. */
    public boolean isSdxl() throws IOException {
        return singleFile() ? family() == ModelFamily.SDXL : ModelDirectory.isSdxl(model);
    }

    /** The family of the single file, from its tensor names. */
    public ModelFamily family() throws IOException {
        try (SafeTensors st = SafeTensors.open(model)) {
            return ModelFamily.detect(model, st.names());
        }
    }

    /** The folder whose configs, tokenizer and scheduler describe the model; for a diffusers folder, the folder. */
    public Path configDir(ModelFamily family) throws IOException {
        if (!singleFile()) return model;
        if (modelConfig.isPresent()) return modelConfig.get();
        return ShippedConfigs.folder(ShippedConfigs.Variant.of(family, vPrediction.orElse(false)));
    }
}

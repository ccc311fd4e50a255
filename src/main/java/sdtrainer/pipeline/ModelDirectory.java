package sdtrainer.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import sdtrainer.io.JsonErrors;

/** The diffusers folder layout: one subfolder per component, each with its config and weights. */
public final class ModelDirectory {
    public static final String UNET = "unet", VAE = "vae", TEXT_ENCODER = "text_encoder", TOKENIZER = "tokenizer", SCHEDULER = "scheduler";
    /** SDXL's second text encoder and its tokenizer. */
    public static final String TEXT_ENCODER_2 = "text_encoder_2", TOKENIZER_2 = "tokenizer_2";
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelDirectory() {}

    /** Reads a JSON file, naming it in the error when it is missing or malformed. */
    public static JsonNode readJson(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException(file + ": missing (expected in a diffusers model directory)");
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IOException(file + ": not valid JSON: " + JsonErrors.describe(e), e);
        }
    }

    public static JsonNode config(Path modelDir, String component) throws IOException {
        String name = component.equals(SCHEDULER) ? "scheduler_config.json" : "config.json";
        return readJson(modelDir.resolve(component).resolve(name));
    }

    /** The weights base name a component uses: transformers writes model.*, diffusers diffusion_pytorch_model.*. */
    public static String weightsBaseName(String component) {
        return component.equals(TEXT_ENCODER) || component.equals(TEXT_ENCODER_2) ? "model" : "diffusion_pytorch_model";
    }

    /** Whether the folder is an SDXL diffusers model (it has a second text encoder). */
    public static boolean isSdxl(Path modelDir) {
        return Files.isDirectory(modelDir.resolve(TEXT_ENCODER_2));
    }

    /** Fails with one clear message when the folder is not a diffusers Stable Diffusion model. */
    public static void check(Path modelDir) throws IOException {
        if (!Files.isDirectory(modelDir)) throw new IOException(modelDir + ": not a directory");
        StringBuilder missing = new StringBuilder();
        for (String c : new String[] {UNET, VAE, TEXT_ENCODER, TOKENIZER, SCHEDULER}) {
            if (!Files.isDirectory(modelDir.resolve(c))) missing.append(missing.length() == 0 ? "" : ", ").append(c).append('/');
        }
        if (missing.length() > 0) {
            throw new IOException(modelDir + ": not a diffusers Stable Diffusion directory, missing " + missing);
        }
    }
}

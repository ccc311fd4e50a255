package sdtrainer.pipeline;

import sdtrainer.pipeline.format.ModelFamily;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The configs of the real architectures a single file may hold (a single file carries none), shipped as
 * resources and written out once per run as a diffusers folder without weights, so that loading, saving and
 * inspecting read them exactly as they read a {@code --model_config} folder.
 */
public final class ShippedConfigs {

    /** One architecture: SD 1.x, SD 2.x 512 base (epsilon), SD 2.x 768 (v-prediction) or SDXL base. */
    public enum Variant {
        SD1("sd1"), SD2_512("sd2-512"), SD2_768_V("sd2-768-v"), SDXL("sdxl");

        final String resource;

        Variant(String resource) {
            this.resource = resource;
        }

        /** The variant of a family; SD 2.x needs the prediction type, which its files do not record. */
        public static Variant of(ModelFamily family, boolean vPrediction) {
            return switch (family) {
                case SD2 -> vPrediction ? SD2_768_V : SD2_512;
                case SDXL -> SDXL;
                case SD1 -> SD1;
            };
        }
    }

    private static final String ROOT = "/sdtrainer/models/";
    private static final List<String> FILES = List.of("model_index.json", "unet/config.json", "vae/config.json",
            "text_encoder/config.json", "scheduler/scheduler_config.json", "tokenizer/special_tokens_map.json",
            "tokenizer/tokenizer_config.json");
    private static final List<String> SDXL_FILES = List.of("text_encoder_2/config.json",
            "tokenizer_2/special_tokens_map.json", "tokenizer_2/tokenizer_config.json");
    /** OpenAI's CLIP BPE vocabulary (MIT, licence beside it), the same for every variant. */
    private static final List<String> TOKENIZER = List.of("vocab.json", "merges.txt", "LICENSE-openai-CLIP.txt");
    private static final Map<Variant, Path> WRITTEN = new EnumMap<>(Variant.class);

    private ShippedConfigs() {}

    /** The variant's config folder (unet/, vae/, text_encoder/, scheduler/, tokenizer/; no weights), written on first use. */
    public static synchronized Path folder(Variant v) throws IOException {
        Path dir = WRITTEN.get(v);
        if (dir != null) return dir;
        dir = Files.createTempDirectory("sd-trainer-" + v.resource + "-");
        for (String f : FILES) copy(ROOT + v.resource + "/" + f, dir.resolve(f));
        for (String f : TOKENIZER) copy(ROOT + "clip-tokenizer/" + f, dir.resolve(ModelDirectory.TOKENIZER).resolve(f));
        if (v == Variant.SDXL) {
            // the second encoder and its tokenizer (the same BPE vocabulary, padded with "!")
            for (String f : SDXL_FILES) copy(ROOT + v.resource + "/" + f, dir.resolve(f));
            for (String f : TOKENIZER) copy(ROOT + "clip-tokenizer/" + f, dir.resolve(ModelDirectory.TOKENIZER_2).resolve(f));
        }
        Path written = dir;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                DiffusersFolder.deleteTree(written);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }));
        WRITTEN.put(v, dir);
        return dir;
    }

    private static void copy(String resource, Path to) throws IOException {
        try (InputStream in = ShippedConfigs.class.getResourceAsStream(resource)) {
            if (in == null) throw new IOException("resource " + resource + " is missing from the build");
            Files.createDirectories(to.getParent());
            Files.copy(in, to);
        }
    }
}

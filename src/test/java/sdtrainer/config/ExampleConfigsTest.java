package sdtrainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped example configs must load and validate: a renamed or removed key, or a value the validator
 * rejects, fails here, not for a user. Their paths are placeholders, so the test swaps in real directories.
 */
class ExampleConfigsTest {

    private static TrainConfig load(String name) throws ConfigException {
        return ConfigLoader.load(Path.of("configs", name));
    }

    /** The config's own values with its placeholder paths replaced by ones that exist. */
    private static TrainConfig withRealPaths(TrainConfig config, Path dir) throws IOException {
        Files.createDirectories(dir.resolve("model/unet"));
        Files.createDirectories(dir.resolve("data"));
        Map<String, Object> paths = new HashMap<>();
        paths.put("model", dir.resolve("model"));
        paths.put("dataset", dir.resolve("data"));
        paths.put("output", dir.resolve("out/run"));
        paths.put("image_log", dir.resolve("out/images"));
        if (config.logDir().isPresent()) paths.put("log_dir", dir.resolve("out/tb"));
        if (config.resumeLora().isPresent()) paths.put("resume_lora", Files.writeString(dir.resolve("prev.safetensors"), ""));
        return ConfigLoader.merge(config, paths);
    }

    @Test
    void everyExampleConfigLoadsAndValidates(@TempDir Path dir) throws IOException, ConfigException {
        List<Path> examples;
        try (Stream<Path> files = Files.list(Path.of("configs"))) {
            examples = files.filter(f -> f.toString().matches(".*\\.(ya?ml|json)")).sorted().toList();
        }
        assertFalse(examples.isEmpty(), "configs/ holds examples");
        for (Path example : examples) {
            TrainConfig config = ConfigLoader.load(example);
            assertTrue(config.model().isPresent() && config.dataset().isPresent() && config.output().isPresent()
                    && config.imageLog().isPresent(), example + " names model, dataset, output and image_log");
            assertEquals(List.of(), ConfigValidator.validate(withRealPaths(config, dir)), example + " validates");
        }
    }

    @Test
    void sd15LoraTrainsOnBuckets() throws ConfigException {
        TrainConfig config = load("sd15-lora-buckets.yaml");
        assertTrue(config.useBucket());
        assertTrue(config.lora() > 0);
        assertFalse(config.vPrediction());
    }

    @Test
    void sd2FinetuneIs768VPredictionOnTheFullModel() throws ConfigException {
        TrainConfig config = load("sd2-768-v-finetune.yaml");
        assertEquals(0, config.lora());
        assertTrue(config.vPrediction());
        assertEquals(new Resolution(768, 768), config.resolution());
    }

    @Test
    void maskedConfigTrainsOnAStepRange() throws ConfigException {
        TrainConfig config = load("masked-step-range.yaml");
        assertTrue(config.mask() && config.useBucket());
        assertEquals(new StepRange(0.5, 1), config.stepRange());
    }
}

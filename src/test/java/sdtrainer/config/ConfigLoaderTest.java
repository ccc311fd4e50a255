package sdtrainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

    @TempDir
    Path dir;

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    @Test
    void readsYamlWithTheOptionKeys() throws Exception {
        TrainConfig config = ConfigLoader.load(write("train.yaml", """
                model: models/sd15
                dataset: data/set
                resolution: 768,512
                batch_size: 8
                lr: 1e-5,1e-4
                lr_scheduler: cosine
                train_encoder: true
                lora: 16
                lora_alpha: 8
                network: eh
                step_range: 0.5,1
                prompt: a cat
                seed: 42
                device: cuda:1
                save_precision: bf16
                on_bad_sample: skip
                """));
        assertEquals(Path.of("models/sd15"), config.model().orElseThrow());
        assertEquals(Path.of("data/set"), config.dataset().orElseThrow());
        assertEquals(new Resolution(768, 512), config.resolution());
        assertEquals(8, config.batchSize());
        assertEquals(new LearningRates(1e-5, 1e-4), config.learningRates());
        assertEquals(LrScheduler.COSINE, config.lrScheduler());
        assertTrue(config.trainEncoder());
        assertEquals(16, config.lora());
        assertEquals(8.0, config.loraAlpha());
        assertEquals(NetworkType.EH, config.network());
        assertEquals(new StepRange(0.5, 1), config.stepRange());
        assertEquals("a cat", config.prompt().orElseThrow());
        assertEquals(42, config.seed().orElseThrow());
        assertEquals("cuda:1", config.device().orElseThrow());
        assertEquals(SavePrecision.BF16, config.savePrecision());
        assertEquals(OnBadSample.SKIP, config.onBadSample());
        assertEquals(10, config.epochs(), "keys absent from the file keep their defaults");
    }

    @Test
    void readsJson() throws Exception {
        TrainConfig config = ConfigLoader.load(write("train.json",
                "{\"batch_size\": 2, \"lr\": 0.0001, \"amp\": true, \"resolution\": 640}"));
        assertEquals(2, config.batchSize());
        assertEquals(new LearningRates(1e-4, 1e-4), config.learningRates());
        assertTrue(config.amp());
        assertEquals(new Resolution(640, 640), config.resolution());
    }

    @Test
    void acceptsListsAndNumbersForCommaOptions() throws Exception {
        TrainConfig config = ConfigLoader.load(write("lists.yaml", """
                resolution: [768, 512]
                lr: [1.0e-5, 1.0e-4]
                step_range: [0, 0.5]
                """));
        assertEquals(new Resolution(768, 512), config.resolution());
        assertEquals(new LearningRates(1e-5, 1e-4), config.learningRates());
        assertEquals(new StepRange(0, 0.5), config.stepRange());
    }

    @Test
    void emptyFileAndEmptyValuesGiveDefaults() throws Exception {
        assertEquals(4, ConfigLoader.load(write("empty.yaml", "\n")).batchSize());
        TrainConfig config = ConfigLoader.load(write("nulls.yaml", "batch_size:\nlr:\n"));
        assertEquals(4, config.batchSize());
        assertEquals(new LearningRates(5e-6, 5e-6), config.learningRates());
    }

    @Test
    void unknownKeyNamesFileLineAndClosestKey() throws IOException {
        Path file = write("typo.yaml", "epochs: 3\nbatchsize: 8\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertEquals("--config " + file + ": line 2: unknown key 'batchsize'; did you mean 'batch_size'?", e.getMessage());
    }

    @Test
    void unknownKeyWithoutCloseMatchHasNoSuggestion() throws IOException {
        Path file = write("odd.json", "{\"colour_depth\": 8}");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().endsWith("unknown key 'colour_depth'"), e.getMessage());
    }

    @Test
    void wrongTypeNamesKeyAndExpectedValue() throws IOException {
        Path file = write("types.yaml", "batch_size: four\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertEquals("--config " + file + ": line 1: batch_size: 'four' is not a whole number", e.getMessage());
    }

    @Test
    void fractionalCountIsNotTruncated() throws IOException {
        Path file = write("frac.yaml", "epochs: 2.5\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().contains("epochs"), e.getMessage());
    }

    @Test
    void unknownEnumValueListsTheChoices() throws IOException {
        Path file = write("sched.yaml", "lr_scheduler: warmup\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().endsWith("lr_scheduler: 'warmup' is not one of constant, linear, cosine,"
                + " constant_with_warmup, cosine_with_restarts, polynomial"), e.getMessage());
    }

    @Test
    void syntaxErrorNamesTheFormat() throws IOException {
        Path file = write("broken.json", "{\"epochs\": 3,,}");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().startsWith("--config " + file + ": line 1: not valid JSON"), e.getMessage());
    }

    @Test
    void duplicateKeyIsAnError() throws IOException {
        Path file = write("dup.yaml", "epochs: 3\nepochs: 4\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().contains("epochs"), e.getMessage());
    }

    @Test
    void topLevelMustBeAMapping() throws IOException {
        Path file = write("list.yaml", "- epochs\n- 3\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().contains("expected a mapping"), e.getMessage());
    }

    @Test
    void missingFileIsNamed() {
        Path file = dir.resolve("absent.yaml");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().startsWith("--config " + file + ": no such file"), e.getMessage());
    }

    @Test
    void mergeReplacesOnlyTheGivenKeys() {
        TrainConfig base = ConfigLoader.merge(new TrainConfig(), Map.of("epochs", 3, "amp", true));
        TrainConfig merged = ConfigLoader.merge(base, Map.of("amp", false, "lr_scheduler", LrScheduler.LINEAR,
                "model", Path.of("m")));
        assertEquals(3, merged.epochs());
        assertTrue(!merged.amp());
        assertEquals(LrScheduler.LINEAR, merged.lrScheduler());
        assertEquals(Path.of("m"), merged.model().orElseThrow());
        assertTrue(base.amp(), "the base config is left as it was");
    }

    @Test
    void mergeRejectsUnknownKeys() {
        assertThrows(IllegalArgumentException.class, () -> ConfigLoader.merge(new TrainConfig(), Map.of("nope", 1)));
    }

    @Test
    void yamlOutputReadsBackTheSame() throws Exception {
        TrainConfig config = ConfigLoader.merge(new TrainConfig(), Map.of("model", Path.of("/m/sd15"),
                "lr", "1e-5,1e-4", "prompt", "true", "seed", 7L, "network", NetworkType.EH));
        String yaml = ConfigLoader.toYaml(config);
        assertTrue(yaml.contains("model: /m/sd15\n"), yaml);
        assertTrue(!yaml.contains("resume_lora"), "unset optional values are left out:\n" + yaml);
        TrainConfig back = ConfigLoader.load(write("back.yaml", yaml));
        assertEquals(yaml, ConfigLoader.toYaml(back));
        assertEquals("true", back.prompt().orElseThrow());
    }
}

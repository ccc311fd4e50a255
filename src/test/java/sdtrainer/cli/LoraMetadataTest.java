package sdtrainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.io.SafeTensors;
import sdtrainer.train.TrainerTest;

/**
 * A LoRA trained from the command line carries kohya's ss_* keys with the run's values, spelled as kohya's
 * train_network.py spells them (expected values: src/test/resources/kohya-metadata/generate.py, from kohya-ss/sd-scripts
 * 48d368fa), and the SAI model-spec keys.
 */
class LoraMetadataTest {
    @Test
    void aTrainedLoraCarriesKohyasKeysAndTheModelSpec(@TempDir Path dir) throws IOException {
        Path model = Fixtures.require("tiny-sd15");
        Path data = TrainerTest.simpleDataset(dir.resolve("bilder-ä"), 3);
        List<String> captions = List.of("a red circle, Shape", "a blue square, shape", "a green circle");
        for (int i = 0; i < 3; i++) Files.writeString(data.resolve("img" + i + ".txt"), captions.get(i));
        Path output = dir.resolve("out/meta-lora");
        CommandRun run = CommandRun.of("--model", model.toString(), "--dataset", data.toString(), "--output", output.toString(),
                "--image_log", dir.resolve("images").toString(), "--resolution", "32", "--batch_size", "2", "--epochs", "2",
                "--save_n_epochs", "2", "--seed", "7", "--lr", "1e-4", "--lora", "4", "--lora_alpha", "2", "--conv_dim", "2",
                "--conv_alpha", "1", "--optimizer", "adamw", "--optimizer_args", "weight_decay=0.01,betas=0.9,0.99",
                "--noise_offset", "0.05", "--min_snr_gamma", "5", "--clip_skip", "2", "--shuffle_caption", "--keep_tokens", "1",
                "--step_range", "0.1,0.9", "--max_grad_norm", "1", "--lr_scheduler", "constant", "--lr_warmup_steps", "0",
                "--device", "cpu");
        assertEquals(0, run.exitCode(), run.err());

        Map<String, String> meta;
        try (SafeTensors st = SafeTensors.open(output.resolveSibling("meta-lora.safetensors"))) {
            meta = new TreeMap<>(st.metadata());
        }
        Map<String, String> expected;
        try (InputStream in = getClass().getResourceAsStream("/kohya-metadata/expected.json")) {
            expected = new ObjectMapper().readValue(in, new TypeReference<TreeMap<String, String>>() {});
        }
        expected.forEach((k, v) -> assertEquals(v, meta.get(k), k));

        // the keys of the clock, the session and the file's own hashes, in kohya's formats
        assertTrue(meta.get("ss_session_id").matches("\\d+"), meta.get("ss_session_id"));
        assertTrue(meta.get("ss_training_started_at").matches("\\d{10}\\.\\d+"), meta.get("ss_training_started_at"));
        assertTrue(Double.parseDouble(meta.get("ss_training_finished_at")) >= Double.parseDouble(meta.get("ss_training_started_at")));
        assertTrue(meta.get("sshs_model_hash").matches("[0-9a-f]{64}"), meta.get("sshs_model_hash"));
        assertEquals(0.0, Double.parseDouble(meta.get("ss_lr_warmup_steps")));

        assertEquals("1.0.1", meta.get("modelspec.sai_model_spec"));
        assertEquals("stable-diffusion-v1/lora", meta.get("modelspec.architecture"));
        assertEquals("diffusers", meta.get("modelspec.implementation"));
        assertEquals("meta-lora", meta.get("modelspec.title"));
        assertEquals("32x32", meta.get("modelspec.resolution"));
        assertEquals("epsilon", meta.get("modelspec.prediction_type"));
        assertEquals("100,900", meta.get("modelspec.timestep_range"));
        assertEquals("2", meta.get("modelspec.encoder_layer"));
        LocalDateTime date = LocalDateTime.parse(meta.get("modelspec.date"));
        assertTrue(Math.abs(java.time.Duration.between(date, LocalDateTime.now()).toMinutes()) < 10, date.toString());
        assertTrue(meta.get("modelspec.implementation_version").startsWith("sd-trainer/"));
    }
}

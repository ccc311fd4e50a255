package sdtrainer.demo;

import sdtrainer.Fixtures;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.pipeline.ModelDirectory;
import sdtrainer.pipeline.StableDiffusion;

class TinyModelTest {
    private static final List<String> CAPTIONS = List.of("a red circle on a white background", "a blue star on a black background");

    @TempDir
    Path dir;

    @Test
    void theModelLoadsWithTheFixturesArchitectureAndTheBuiltTokenizersVocabulary() throws IOException {
        BpeTokenizerFiles.Built tokenizer = TinyModel.write(dir, CAPTIONS, 3);
        try (StableDiffusion sd = StableDiffusion.load(dir, Device.cpu())) {
            // parameter counts of the tiny fixture (fixtures/README.md); its text encoder has 49408 × 32 embeddings
            assertEquals(1_106_212, sd.unet().parameterCount());
            assertEquals(843_847, sd.vae().parameterCount());
            assertEquals(1_617_529 - 49408L * 32 + (long) tokenizer.vocabSize() * 32, sd.textEncoder().parameterCount());
            assertEquals(tokenizer.vocabSize(), sd.tokenizer().vocabSize());
            assertEquals(2, sd.vae().config.downsamplingFactor());
            assertEquals("epsilon", sd.schedule().predictionType());

            try (NDManager m = sd.manager().newSubManager()) {
                NDArray states = sd.encodePrompts(CAPTIONS, m);
                assertEquals(new ai.djl.ndarray.types.Shape(2, 77, 32), states.getShape());
                assertTrue(Float.isFinite(states.abs().max().getFloat()));
            }
        }
    }

    @Test
    void theSameSeedWritesTheSameWeights() throws IOException {
        TinyModel.write(dir.resolve("a"), CAPTIONS, 5);
        TinyModel.write(dir.resolve("b"), CAPTIONS, 5);
        for (String c : List.of("unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
                "text_encoder/model.safetensors", "tokenizer/vocab.json", "tokenizer/merges.txt")) {
            assertEquals(-1L, Files.mismatch(dir.resolve("a").resolve(c), dir.resolve("b").resolve(c)), c);
        }
    }

    /** Every key of the fixture's configs that shapes the network has the same value in ours. */
    @Test
    void configsMatchTheTinyFixtureWhereItIsPresent() throws IOException {
        Path fixture = Fixtures.TINY_SD15;
        Assumptions.assumeTrue(Files.isDirectory(fixture), "fixture absent");
        Map<String, ObjectNode> ours = Map.of(ModelDirectory.UNET, TinyModel.unetConfig(), ModelDirectory.VAE, TinyModel.vaeConfig(),
                ModelDirectory.SCHEDULER, TinyModel.schedulerConfig());
        for (Map.Entry<String, ObjectNode> e : ours.entrySet()) {
            JsonNode theirs = ModelDirectory.config(fixture, e.getKey());
            for (Iterator<String> keys = e.getValue().fieldNames(); keys.hasNext(); ) {
                String key = keys.next();
                assertEquals(theirs.get(key).asText(), e.getValue().get(key).asText(), e.getKey() + " " + key);
            }
        }
        JsonNode clip = ModelDirectory.config(fixture, ModelDirectory.TEXT_ENCODER);
        ObjectNode te = TinyModel.textEncoderConfig(BpeTokenizerFiles.learn(CAPTIONS, 10));
        for (String key : List.of("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "max_position_embeddings", "hidden_act", "layer_norm_eps", "projection_dim")) {
            assertEquals(clip.get(key).asText(), te.get(key).asText(), "text_encoder " + key);
        }
    }
}

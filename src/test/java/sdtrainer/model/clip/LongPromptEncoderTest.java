package sdtrainer.model.clip;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import sdtrainer.Fixtures;
import sdtrainer.io.SafeTensors;
import sdtrainer.nn.NoGrad;
import sdtrainer.pipeline.StableDiffusion;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Long prompts and clip skip on tiny-sd15 against kohya 48d368fa's SdTokenizeStrategy / SdTextEncodingStrategy
 * (shared fixtures recipes/long_prompt_75|150|225: ids and states for clip_skip 1 and 2).
 */
class LongPromptEncoderTest {

    @ParameterizedTest
    @ValueSource(ints = {75, 150, 225})
    void idsAndStatesMatchKohya(int maxTokenLength) throws IOException {
        String name = "long_prompt_" + maxTokenLength;
        Path file = Fixtures.require("recipes", name + ".safetensors");
        List<String> prompts = prompts(name);
        try (StableDiffusion sd = StableDiffusion.load(Fixtures.TINY_SD15, Device.cpu());
             NDManager m = sd.manager().newSubManager(); SafeTensors st = SafeTensors.open(file);
             NoGrad ignored = new NoGrad()) {
            // kohya's max_token_length None is the plain 77-token path
            int option = maxTokenLength == 75 ? 0 : maxTokenLength;
            for (int clipSkip = 1; clipSkip <= 2; clipSkip++) {
                LongPromptEncoder enc = new LongPromptEncoder(sd.tokenizer(), sd.textEncoder(), option, clipSkip);
                NDArray wantIds = st.load("output.input_ids", m);
                long[][][] ids = enc.tokenize(prompts);
                assertEquals(wantIds.getShape().get(1), ids[0].length, "chunks");
                long[] flat = new long[(int) wantIds.size()];
                int k = 0;
                for (long[][] p : ids) for (long[] c : p) for (long id : c) flat[k++] = id;
                assertArrayEquals(wantIds.toLongArray(), flat, name);
                NDArray want = st.load("output.hidden_states.clip_skip" + clipSkip, m);
                NDArray got = enc.encode(prompts, m);
                assertEquals(want.getShape(), got.getShape());
                float[] w = want.toFloatArray(), g = got.toFloatArray();
                double worst = 0;
                for (int i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(w[i] - g[i]));
                assertTrue(worst < 2e-5, name + " clip_skip " + clipSkip + ": max |diff| " + worst);
            }
        }
    }

    @Test
    void theStandardEncoderIsTheModelsPlainOutputAndStableDiffusionUsesIt() throws IOException {
        try (StableDiffusion sd = StableDiffusion.load(Fixtures.require("tiny-sd15"), Device.cpu());
             NDManager m = sd.manager().newSubManager(); NoGrad ignored = new NoGrad()) {
            List<String> prompts = List.of("a photo of a cat", "two dogs");
            NDArray plain = sd.textEncoder().forward(sd.tokenize(prompts, m)).lastHiddenState();
            assertArrayEquals(plain.toFloatArray(), sd.encodePrompts(prompts, m).toFloatArray());
            sd.usePromptEncoder(new LongPromptEncoder(sd.tokenizer(), sd.textEncoder(), 150, 2));
            assertEquals(152, sd.encodePrompts(prompts, m).getShape().get(1), "sampling and training take the set path");
        }
    }

    @Test
    void badSettingsAreRejected() throws IOException {
        try (StableDiffusion sd = StableDiffusion.load(Fixtures.require("tiny-sd15"), Device.cpu())) {
            assertThrows(IllegalArgumentException.class, () -> new LongPromptEncoder(sd.tokenizer(), sd.textEncoder(), 100, 1));
            int layers = sd.textEncoder().config.numHiddenLayers();
            assertThrows(IllegalArgumentException.class,
                    () -> new LongPromptEncoder(sd.tokenizer(), sd.textEncoder(), 0, layers + 1));
            assertThrows(IllegalArgumentException.class, () -> new LongPromptEncoder(sd.tokenizer(), sd.textEncoder(), 0, 0));
        }
    }

    /** SD 2.x padding (pad id 0 != eos): kohya's _get_input_ids cut, from src/test/resources/recipe/reference.json. */
    @Test
    void sd2ChunksMatchKohya() throws IOException {
        JsonNode ref;
        try (java.io.InputStream in = getClass().getResourceAsStream("/recipe/reference.json")) {
            ref = new ObjectMapper().readTree(in).get("sd2_chunks");
        }
        int eos = ref.get("eos").asInt(), pad = ref.get("pad").asInt(), width = ref.get("width").asInt();
        for (JsonNode c : ref.get("cases")) {
            long[] padded = new long[c.get("padded").size()];
            for (int i = 0; i < padded.length; i++) padded[i] = c.get("padded").get(i).asLong();
            long[][] got = LongPromptEncoder.chunks(padded, width, eos, pad);
            assertEquals(c.get("chunks").size(), got.length);
            for (int j = 0; j < got.length; j++) {
                long[] want = new long[width];
                for (int i = 0; i < width; i++) want[i] = c.get("chunks").get(j).get(i).asLong();
                assertArrayEquals(want, got[j], "content " + c.get("content") + ", max_length " + c.get("max_length") + ", chunk " + j);
            }
        }
        assertEquals(20, ref.get("cases").size());
    }

    private static List<String> prompts(String name) throws IOException {
        JsonNode cases = new ObjectMapper().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS.mappedFeature())
                .readTree(Fixtures.require("recipes", "cases.json").toFile()).get("cases");
        for (JsonNode c : cases) {
            if (c.get("name").asText().equals(name)) {
                List<String> out = new ArrayList<>();
                c.get("params").get("prompts").forEach(p -> out.add(p.asText()));
                return out;
            }
        }
        throw new IllegalArgumentException(name);
    }
}

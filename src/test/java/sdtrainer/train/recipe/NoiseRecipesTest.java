package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Noise offset and pyramid noise against kohya's own functions fed the same draws (fixture noise_recipes). */
class NoiseRecipesTest {

    @Test
    void noiseOffsetMatchesKohya() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); RecipeFixture f = RecipeFixture.open("noise_recipes")) {
            NDArray latents = f.get("input.latents", m), noise = f.get("input.noise", m);
            RecordedDraws draws = new RecordedDraws(List.of(f.get("output.noise_offset.0.1.draw.0", m)), List.of());
            NDArray got = new NoiseOffset(0.1, null).apply(latents, noise, draws);
            assertTrue(draws.exhausted());
            assertClose(f.floats("output.noise_offset.0.1", m), got.toFloatArray(), 0);
        }
    }

    @Test
    void adaptiveNoiseOffsetMatchesKohya() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); RecipeFixture f = RecipeFixture.open("noise_recipes")) {
            NDArray latents = f.get("input.latents", m), noise = f.get("input.noise", m);
            String c = "output.noise_offset.0.1.adaptive0.05";
            RecordedDraws draws = new RecordedDraws(List.of(f.get(c + ".draw.0", m)), List.of());
            NDArray got = new NoiseOffset(0.1, 0.05).apply(latents, noise, draws);
            assertTrue(draws.exhausted());
            // the channel means may round differently from torch 1.13's reduction in the last bit
            assertClose(f.floats(c, m), got.toFloatArray(), 1e-6);
            assertFalse(java.util.Arrays.equals(f.floats("output.noise_offset.0.1", m), got.toFloatArray()),
                    "the adaptive part changes the offset");
        }
    }

    @Test
    void pyramidNoiseMatchesKohyaAtBothSettings() throws IOException {
        try (RecipeFixture f = RecipeFixture.open("noise_recipes")) {
            pyramid(f, 6, 0.4, "it6.d0.4", 4);
            pyramid(f, 10, 0.3, "it10.d0.3", 5);
        }
    }

    private static void pyramid(RecipeFixture f, int iterations, double discount, String key, int levels) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            String c = "output.pyramid." + key;
            List<NDArray> gaussians = new ArrayList<>();
            for (int i = 0; i < levels; i++) gaussians.add(f.get(c + ".draw." + i, m));
            List<Double> uniforms = new ArrayList<>();
            for (JsonNode u : f.params().get("pyramid." + key + ".python_random_draws")) uniforms.add(u.asDouble());
            RecordedDraws draws = new RecordedDraws(gaussians, uniforms);
            NDArray noise = f.get("input.noise", m);
            NDArray got = new PyramidNoise(iterations, discount).apply(f.get("input.latents", m), noise, draws);
            assertTrue(draws.exhausted(), key + ": stops after the first level one pixel wide, as kohya");
            assertClose(f.floats(c, m), got.toFloatArray(), 2e-6);
        }
    }

    @Test
    void inputPerturbationAddsGammaTimesADrawToTheInputNoiseOnly() throws IOException {
        try (NDManager m = NDManager.newBaseManager(); RecipeFixture f = RecipeFixture.open("noise_recipes")) {
            NDArray noise = f.get("input.noise", m), extra = f.get("input.latents", m);
            float[] before = noise.toFloatArray();
            RecordedDraws draws = new RecordedDraws(List.of(extra), List.of());
            float[] got = new InputPerturbation(0.1).inputNoise(noise, draws).toFloatArray();
            assertTrue(draws.exhausted());
            float[] e = extra.toFloatArray();
            for (int i = 0; i < got.length; i++) assertEquals(before[i] + 0.1f * e[i], got[i], 0f);
            assertArrayEquals(before, noise.toFloatArray(), "the target noise is left as it was");
        }
    }

    static void assertClose(float[] want, float[] got, double tol) {
        assertEquals(want.length, got.length);
        double worst = 0;
        for (int i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
        assertTrue(worst <= tol, "max |diff| " + worst + " > " + tol);
    }
}

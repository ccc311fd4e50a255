package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import sdtrainer.Fixtures;
import sdtrainer.io.SafeTensors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The {@code sampler} cases of the shared recipes fixture (diffusers 0.21.4 pipelines on tiny-sd15, every
 * scheduler.step call and every noise draw recorded; see recipes/README.md).
 */
public final class SamplerRecipes {
    /**
     * Made with one torch thread: two threads move sampler latents by up to about 1e-4 (recipes README); the
     * sigma samplers' latents reach about 15, so the bound is 1e-4 of the reference's largest magnitude (at least 1).
     */
    public static final double TOLERANCE = 1e-4;

    /** One case: its sampler name (the case name without "sampler_"), its json and its tensors. */
    public record Case(String sampler, JsonNode json, SafeTensors tensors) {
        public JsonNode params() { return json.path("params"); }
        /** The pipeline call's inference steps, as the case's recorded call states them. */
        public int inferenceSteps() { return Integer.parseInt(callArgument("num_inference_steps=(\\d+)")); }
        public float guidance() { return Float.parseFloat(callArgument("guidance_scale=([0-9.]+)")); }
        public String prompt() { return callArgument("[(, ]prompt='([^']*)'"); }
        public String negativePrompt() { return callArgument("negative_prompt='([^']*)'"); }

        private String callArgument(String regex) {
            Matcher m = Pattern.compile(regex).matcher(json.path("call").asText());
            if (!m.find()) fail(json.path("name").asText() + ": no " + regex + " in the recorded call");
            return m.group(1);
        }

        public NDArray load(String name, NDManager m) {
            try {
                return tensors.load(name, m);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        public double[] doubles(String param) {
            JsonNode a = params().path(param);
            double[] out = new double[a.size()];
            for (int i = 0; i < out.length; i++) out[i] = a.get(i).asDouble();
            return out;
        }

        /** The recorded draws in order, handed out one per call; {@link #used} counts them. */
        public Draws draws(NDManager m) {
            return new Draws(this, m);
        }
    }

    /** Feeds a stochastic sampler the noise diffusers actually drew (noise.0, noise.1, ...). */
    public static final class Draws implements GaussianSource {
        private final Case c;
        private final NDManager owner;
        private int used;

        Draws(Case c, NDManager owner) {
            this.c = c;
            this.owner = owner;
        }

        @Override
        public NDArray gaussian(NDManager m, ai.djl.ndarray.types.Shape shape) {
            NDArray n = c.load("output.noise." + used++, owner);
            if (!n.getShape().equals(shape)) fail("draw " + (used - 1) + " has shape " + n.getShape() + ", asked " + shape);
            return n;
        }

        public int used() { return used; }
    }

    private SamplerRecipes() {}

    /** Every sampler case; the caller closes the tensors of each. */
    public static List<Case> cases() throws IOException {
        Path dir = Fixtures.require("recipes");
        // other kinds in the file carry -Infinity values (python's json writes them)
        JsonNode root = JsonMapper.builder().enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).build()
                .readTree(dir.resolve("cases.json").toFile());
        List<Case> out = new ArrayList<>();
        for (JsonNode c : root.path("cases")) {
            if (!c.path("kind").asText().equals("sampler")) continue;
            String name = c.path("name").asText();
            out.add(new Case(name.substring("sampler_".length()), c, SafeTensors.open(dir.resolve(c.path("file").asText()))));
        }
        assertTrue(out.size() >= 8, "the recipes list " + out.size() + " sampler cases");
        return out;
    }

    /** {@link #TOLERANCE} scaled by the largest |value| of the reference (at least 1). */
    public static double tolerance(float[] reference) {
        double max = 1;
        for (float v : reference) max = Math.max(max, Math.abs(v));
        return TOLERANCE * max;
    }

    /** Max |a - b| over two arrays of equal length. */
    public static double maxDiff(float[] a, float[] b) {
        if (a.length != b.length) fail("lengths " + a.length + " and " + b.length);
        double max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        return max;
    }
}

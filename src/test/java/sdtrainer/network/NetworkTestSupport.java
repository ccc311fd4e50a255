package sdtrainer.network;

import sdtrainer.Fixtures;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Noise;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.train.optim.AdamW;
import sdtrainer.train.optim.ParamGroup;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tiny fixture, a fixed probe input and a few-step training loop shared by the network tests. */
final class NetworkTestSupport {
    static final Path TINY = Fixtures.TINY_SD15;
    static final String PROMPT = "a photo of a cat wearing a hat";

    private NetworkTestSupport() {}

    /** UNet output for a fixed latent, timestep and prompt (text encoder included), copied to Java. */
    static float[] probe(StableDiffusion sd) {
        try (NoGrad ignored = new NoGrad(); NDManager m = sd.manager().newSubManager()) {
            Noise noise = new Noise(7);
            NDArray latents = noise.gaussian(m, new Shape(1, 4, 16, 16), m.getDevice());
            NDArray context = sd.encodePrompts(List.of(PROMPT), m);
            return sd.unet().forward(latents, m.create(new long[] {321}), context).toFloatArray();
        }
    }

    /** MSE of the UNet output against a random target, backward, AdamW step: {@code steps} times. */
    static void train(StableDiffusion sd, Network net, int steps, double lr, long seed) {
        AdamW opt = new AdamW(List.of(new ParamGroup("text_encoder", net.teParameters(), lr),
                new ParamGroup("unet", net.unetParameters(), lr)));
        Noise noise = new Noise(seed);
        for (int i = 0; i < steps; i++) {
            try (NDManager m = sd.manager().newSubManager()) {
                NDArray latents = noise.gaussian(m, new Shape(2, 4, 16, 16), m.getDevice());
                NDArray target = noise.gaussian(m, new Shape(2, 4, 16, 16), m.getDevice());
                NDArray t = m.create(noise.integers(2, 0, 1000));
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray context = sd.encodePrompts(List.of(PROMPT, "a red square"), m);
                    NDArray loss = sd.unet().forward(latents, t, context).sub(target).square().mean();
                    gc.backward(loss);
                }
                opt.step();
                opt.zeroGrad();
            }
        }
    }

    static float maxAbsDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        float max = 0;
        for (int i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
        return max;
    }

    static void assertClose(float[] expected, float[] actual, double tol, String what) {
        float d = maxAbsDiff(expected, actual);
        assertTrue(d <= tol, what + ": max |diff| " + d + " > " + tol);
    }
}

package sdtrainer.nn;

import sdtrainer.Fixtures;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;
import sdtrainer.pipeline.StableDiffusion;
import sdtrainer.train.Noising;
import sdtrainer.train.Objective;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Checkpointed UNet blocks give the same gradients as plain autograd. */
class CheckpointingTest {
    private static final Path FIXTURE = Fixtures.TINY_SD15;

    /** Gradients of every trainable UNet and text-encoder parameter after one loss backward. */
    private static Map<String, float[]> gradients(StableDiffusion sd, NDManager m, boolean checkpoint, boolean trainEncoder) {
        Noise n = new Noise(3);
        NDArray latents = n.gaussian(m, new Shape(2, 4, 16, 24), m.getDevice());
        NDArray noise = n.gaussian(m, latents.getShape(), m.getDevice());
        NDArray t = m.create(new long[] {37, 801});
        Map<String, float[]> out = new LinkedHashMap<>();
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray context = sd.encodePrompts(java.util.List.of("a red circle", "a blue square"), m);
            if (!trainEncoder) context = context.stopGradient();
            Checkpointing ck = checkpoint ? new Checkpointing(trainEncoder) : null;
            Objective.Outcome r = Objective.of(sd.schedule(), false).compute(sd.unet(), latents,
                    Noising.Noised.of(sd.schedule(), latents, noise, t), context, null, ck);
            gc.backward(r.loss());
            if (ck != null) ck.backward();
        }
        Map<String, Parameter> params = new LinkedHashMap<>();
        sd.unet().namedParameters().forEach((k, p) -> params.put("unet." + k, p));
        sd.textEncoder().namedParameters().forEach((k, p) -> params.put("te." + k, p));
        params.forEach((k, p) -> {
            if (!p.isTrainable()) return;
            try (NDArray g = p.get().getGradient()) {
                out.put(k, g.toFloatArray());
            }
            ai.djl.pytorch.jni.JniUtils.zeroGrad((ai.djl.pytorch.engine.PtNDArray) p.get());
        });
        return out;
    }

    private static void assertSameGradients(Map<String, float[]> plain, Map<String, float[]> ck) {
        assertEquals(plain.keySet(), ck.keySet());
        int nonZero = 0;
        for (String k : plain.keySet()) {
            float[] a = plain.get(k), b = ck.get(k);
            float scale = 0, err = 0;
            for (int i = 0; i < a.length; i++) {
                scale = Math.max(scale, Math.abs(a[i]));
                err = Math.max(err, Math.abs(a[i] - b[i]));
            }
            if (scale > 0) nonZero++;
            assertTrue(err <= 1e-5f * Math.max(1e-3f, scale), k + ": max diff " + err + " at scale " + scale);
        }
        assertTrue(nonZero > plain.size() / 2, "most gradients are non-zero");
    }

    @Test
    void fullUnetAndTextEncoderGradientsMatchThePlainPath() throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE));
        try (NDManager m = NDManager.newBaseManager(); StableDiffusion sd = StableDiffusion.load(FIXTURE, m.getDevice())) {
            sd.unet().setRequiresGrad(true);
            sd.textEncoder().setRequiresGrad(true);
            assertSameGradients(gradients(sd, m, false, true), gradients(sd, m, true, true));
        }
    }

    @Test
    void upBlocksOnlyGradientsMatchThePlainPath() throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE));
        try (NDManager m = NDManager.newBaseManager(); StableDiffusion sd = StableDiffusion.load(FIXTURE, m.getDevice())) {
            sd.unet().children().get("up_blocks").setRequiresGrad(true);
            Map<String, float[]> plain = gradients(sd, m, false, false);
            assertTrue(plain.keySet().stream().allMatch(k -> k.startsWith("unet.up_blocks.")));
            assertSameGradients(plain, gradients(sd, m, true, false));
        }
    }
}

package sdtrainer.train.optim;

import sdtrainer.Fixtures;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import org.junit.jupiter.api.Test;
import sdtrainer.io.SafeTensors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class AdamWTest {

    static final Path TRAIN_STEP = Fixtures.path("tiny-sd15", "reference", "train_step.safetensors");

    /** Makes p's gradient exactly g: backward of sum(p * g). */
    static void setGradient(NDArray p, NDArray g) {
        boolean mode = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try (NDArray loss = p.mul(g).sum(); NDArray seed = loss.onesLike()) {
            JniUtils.backward((PtNDArray) loss, (PtNDArray) seed, false, false);
        } finally {
            JniUtils.setGradMode(mode);
        }
    }

    static NDArray param(NDManager m, float... values) {
        return param(m, new Shape(values.length), values);
    }

    static NDArray param(NDManager m, Shape shape, float... values) {
        NDArray p = m.create(values, shape);
        p.setRequiresGradient(true);
        return p;
    }

    static AdamW single(String name, NDArray p, double lr) {
        return new AdamW(List.of(new ParamGroup("g", Map.of(name, p), lr)));
    }

    @Test
    void twoStepsFollowTorchsFormula() {
        float[] p0 = {0.5f, -1.25f, 3f, 1e-3f};
        float[][] grads = {{0.1f, -0.02f, 4f, 0f}, {-0.3f, 0.05f, 2f, 1e-6f}};
        double lr = 1e-3, wd = 1e-2, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        float[] expected = p0.clone(), m = new float[4], v = new float[4];
        for (int step = 1; step <= 2; step++) {
            double bc1 = 1 - Math.pow(b1, step), bc2Sqrt = Math.sqrt(1 - Math.pow(b2, step));
            for (int i = 0; i < 4; i++) {
                float g = grads[step - 1][i];
                expected[i] *= (float) (1 - lr * wd);
                m[i] = m[i] * (float) b1 + g * (float) (1 - b1);
                v[i] = v[i] * (float) b2 + g * (float) (1 - b2) * g;
                float denom = (float) Math.sqrt(v[i]) / (float) bc2Sqrt + (float) eps;
                expected[i] += m[i] * (float) (-lr / bc1) / denom;
            }
        }
        try (NDManager mgr = NDManager.newBaseManager()) {
            NDArray p = param(mgr, p0);
            AdamW opt = single("w", p, lr);
            boolean mode = true;
            for (float[] g : grads) {
                opt.zeroGrad();
                setGradient(p, mgr.create(g));
                JniUtils.setGradMode(mode);
                opt.step();
                assertEquals(mode, JniUtils.isGradMode(), "grad mode restored");
                mode = !mode;
            }
            float[] got = p.toFloatArray();
            for (int i = 0; i < 4; i++) {
                // libtorch's vectorised sqrt may differ from Java's by an ulp
                assertEquals(expected[i], got[i], Math.ulp(expected[i]) * 2, "element " + i);
            }
        }
    }

    @Test
    void matchesTorchAdamWOnTheFixtureStep() throws IOException {
        assumeTrue(Files.isRegularFile(TRAIN_STEP), "fixture absent");
        for (boolean fused : new boolean[] {true, false}) {
            matchesTorchAdamWOnTheFixtureStep(fused);
        }
    }

    private static void matchesTorchAdamWOnTheFixtureStep(boolean fused) throws IOException {
        try (NDManager m = NDManager.newBaseManager(); SafeTensors st = SafeTensors.open(TRAIN_STEP)) {
            NDArray w = st.load("output.conv_in.weight.before", m).duplicate();
            w.setRequiresGradient(true);
            setGradient(w, st.load("output.conv_in.weight.grad", m));
            AdamW a = new AdamW(List.of(new ParamGroup("g", Map.of("conv_in.weight", w), 1e-4)), 0.9, 0.999, 1e-8, 1e-2);
            (fused ? a : a.tensorByTensor()).step();
            float[] expected = st.load("output.conv_in.weight.after_adamw", m).toFloatArray();
            float[] got = w.toFloatArray();
            double max = 0;
            for (int i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - expected[i]));
            // bit-exact on this CPU build; the margin covers libtorch builds whose sqrt rounds differently
            assertTrue(max <= 1e-7, (fused ? "fused" : "per tensor") + ": max |diff| " + max);
        }
    }

    /**
     * The fused step over all tensors follows the per-tensor step (torch 1.13's op order) to float32 rounding over
     * 20 steps on the fixture's UNet: they drift apart by at most 2 ulp (of the weight plus of lr) per step.
     */
    @Test
    void fusedStepFollowsTheTensorByTensorStep() throws IOException {
        double worst = OptimizerCases.oneCallAgainstTensorByTensor(
                g -> new AdamW(OptimizerTestGroups.withLr(g, 1e-3), 0.9, 0.999, 1e-8, 1e-2), 20);
        assertTrue(worst <= 2 * 20, "fused and per-tensor weights differ by up to " + worst + " ulp (of the weight plus of lr)");
    }

    @Test
    void stateDictRoundTripContinuesBitForBit() {
        float[] p0 = {0.3f, -0.7f, 1.1f, 0.02f, -2f, 0.6f};
        float[][] grads = {{0.1f, 0.2f, -0.3f, 0.4f, 0.5f, -0.6f}, {-0.05f, 0.3f, 0.2f, -0.1f, 0.9f, 0f},
                {0.7f, -0.2f, 0.1f, 0.3f, -0.4f, 0.25f}};
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray straight = param(m, new Shape(2, 3), p0);
            AdamW a = single("layer.weight", straight, 5e-3);
            for (float[] g : grads) {
                a.zeroGrad();
                setGradient(straight, m.create(g, new Shape(2, 3)));
                a.step();
            }

            NDArray first = param(m, new Shape(2, 3), p0);
            AdamW b = single("layer.weight", first, 5e-3);
            for (int i = 0; i < 2; i++) {
                b.zeroGrad();
                setGradient(first, m.create(grads[i], new Shape(2, 3)));
                b.step();
            }
            // "save": copy every state array out to plain Java data and back in, as a safetensors file would
            Map<String, NDArray> saved = new HashMap<>();
            try (NDManager stepManager = m.newSubManager()) {
                Map<String, NDArray> dict = b.stateDict(stepManager);
                assertEquals(Set.of("layer.weight.exp_avg", "layer.weight.exp_avg_sq", "layer.weight.step"), dict.keySet());
                for (Map.Entry<String, NDArray> e : dict.entrySet()) {
                    NDArray v = e.getValue();
                    saved.put(e.getKey(), v.getDataType().isInteger()
                            ? m.create(v.toLongArray(), v.getShape())
                            : m.create(v.toFloatArray(), v.getShape()));
                }
            }
            assertEquals(2L, saved.get("layer.weight.step").toLongArray()[0]);

            NDArray resumed = param(m, new Shape(2, 3), first.toFloatArray());
            AdamW c = single("layer.weight", resumed, 5e-3);
            c.loadStateDict(saved);
            // the loaded state is a copy: changing the source must not reach the optimizer
            saved.get("layer.weight.exp_avg").muli(0);
            setGradient(resumed, m.create(grads[2], new Shape(2, 3)));
            c.step();
            assertArrayEquals(straight.toFloatArray(), resumed.toFloatArray());
        }
    }

    @Test
    void resumesBitForBitThroughASafetensorsFile(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        OptimizerCases.assertResumesBitForBit(g -> new AdamW(OptimizerTestGroups.withLr(g, 1e-3)), 3, 5, dir);
    }

    @Test
    void groupsHaveTheirOwnLearningRate() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray unet = param(m, 1f, 2f);
            NDArray te = param(m, 1f, 2f);
            AdamW opt = new AdamW(List.of(new ParamGroup("unet", Map.of("u", unet), 1e-2),
                    new ParamGroup("text_encoder", Map.of("t", te), 0.0)));
            setGradient(unet, m.create(new float[] {1f, 1f}));
            setGradient(te, m.create(new float[] {1f, 1f}));
            opt.step();
            assertArrayEquals(new float[] {1f, 2f}, te.toFloatArray(), "lr 0: neither decay nor update");
            float[] u = unet.toFloatArray();
            // first Adam step moves by about lr against the gradient's sign
            assertEquals(1f * (1 - 1e-4f) - 1e-2f, u[0], 1e-6);

            opt.setLr("text_encoder", 1e-2);
            assertEquals(1e-2, opt.lr("text_encoder"));
            opt.step();
            assertNotEquals(1f, te.toFloatArray()[0]);
            assertThrows(IllegalArgumentException.class, () -> opt.setLr("vae", 1e-3));
            assertThrows(IllegalArgumentException.class, () -> opt.setLr("unet", Double.NaN));
            assertThrows(IllegalArgumentException.class, () -> new AdamW(opt.groups(), 1.0, 0.999, 1e-8, 0));
        }
    }

    @Test
    void parametersWithoutGradientAreSkippedAndZeroGradClears() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray used = param(m, 1f);
            NDArray unused = param(m, 1f);
            AdamW opt = new AdamW(List.of(new ParamGroup("g", Map.of("used", used, "unused", unused), 0.1)));
            opt.zeroGrad();
            setGradient(used, m.create(new float[] {2f}));
            opt.step();
            assertEquals(1f, unused.toFloatArray()[0]);
            assertNotEquals(1f, used.toFloatArray()[0]);
            try (NDManager sm = m.newSubManager()) {
                assertEquals(Set.of("used.exp_avg", "used.exp_avg_sq", "used.step"), opt.stateDict(sm).keySet());
            }
            opt.zeroGrad();
            try (NDArray g = used.getGradient()) {
                assertEquals(0f, g.toFloatArray()[0]);
            }
        }
    }

    @Test
    void stateSurvivesTheCallersScope() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray p = param(m, 1f, -1f);
            AdamW opt = single("p", p, 0.1);
            setGradient(p, m.create(new float[] {1f, 1f}));
            try (NDScope scope = new NDScope()) {
                opt.step();
            }
            opt.step();
            try (NDManager sm = m.newSubManager()) {
                assertEquals(2L, opt.stateDict(sm).get("p.step").toLongArray()[0]);
                assertTrue(opt.stateDict(sm).get("p.exp_avg").toFloatArray()[0] > 0);
            }
        }
    }

    @Test
    void loadStateDictRejectsMismatches() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray p = param(m, 1f, 2f);
            AdamW opt = single("p", p, 0.1);
            Map<String, NDArray> wrongShape = Map.of("p.exp_avg", m.zeros(new Shape(3)), "p.exp_avg_sq",
                    m.zeros(new Shape(3)), "p.step", m.create(1L));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opt.loadStateDict(wrongShape));
            assertTrue(e.getMessage().contains("p.exp_avg"), e.getMessage());
            Map<String, NDArray> stranger = Map.of("q.exp_avg", m.zeros(new Shape(2)));
            e = assertThrows(IllegalArgumentException.class, () -> opt.loadStateDict(stranger));
            assertTrue(e.getMessage().contains("q.exp_avg"), e.getMessage());
            Map<String, NDArray> incomplete = Map.of("p.exp_avg", m.zeros(new Shape(2)));
            assertThrows(IllegalArgumentException.class, () -> opt.loadStateDict(incomplete));
            assertThrows(IllegalArgumentException.class, () -> new AdamW(List.of(
                    new ParamGroup("a", Map.of("p", p), 0.1), new ParamGroup("b", Map.of("p", p), 0.1))));
        }
    }
}

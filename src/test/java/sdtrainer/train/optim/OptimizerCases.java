package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import sdtrainer.io.SafeTensors;
import sdtrainer.io.SafeTensorsWriter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Shared checks of the optimizer tests: reference step files, and save/resume through a safetensors file. */
final class OptimizerCases {
    private OptimizerCases() {}

    static Path resource(String name) {
        return Path.of("src", "test", "resources", "optim", name);
    }

    /**
     * Feeds a reference case ({@code input.param.i}, {@code input.grad.step<s>.<i>}, {@code output.param.step<s>.<i>};
     * the recipes fixtures' layout) to an optimizer over one group "g" with parameters "p0", "p1", ... and checks
     * every parameter after every step within {@code atol + rtol |expected|}; {@code afterStep} sees the
     * optimizer after each step (step index from 0).
     */
    static void assertMatches(Path file, Function<List<ParamGroup>, Optimizer> make, double atol, double rtol,
                              BiConsumer<Optimizer, Integer> afterStep) throws IOException {
        try (NDManager m = NDManager.newBaseManager(); SafeTensors st = SafeTensors.open(file)) {
            Map<String, NDArray> params = new LinkedHashMap<>();
            for (int i = 0; st.names().contains("input.param." + i); i++) {
                NDArray p = st.load("input.param." + i, m).duplicate();
                p.setRequiresGradient(true);
                params.put("p" + i, p);
            }
            assertTrue(!params.isEmpty(), file + " has no input.param.0");
            Optimizer opt = make.apply(List.of(new ParamGroup("g", params, 1.0)));
            int steps = 0;
            for (int s = 0; st.names().contains("input.grad.step" + s + ".0"); s++, steps++) {
                opt.zeroGrad();
                int i = 0;
                for (NDArray p : params.values()) {
                    AdamWTest.setGradient(p, st.load("input.grad.step" + s + "." + i++, m));
                }
                opt.step();
                i = 0;
                for (NDArray p : params.values()) {
                    String key = "output.param.step" + s + "." + i++;
                    assertClose(st.readFloats(key), p.toFloatArray(), atol, rtol, file.getFileName() + " " + key);
                }
                afterStep.accept(opt, s);
            }
            assertTrue(steps > 0, file + " has no steps");
        }
    }

    static void assertClose(float[] expected, float[] got, double atol, double rtol, String what) {
        assertEquals(expected.length, got.length, what);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < got.length; i++) {
            double excess = Math.abs(got[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
            if (!(excess <= worst)) {
                worst = excess;
                at = i;
            }
        }
        final int where = at;
        assertTrue(at < 0, () -> what + ": element " + where + " is " + got[where] + ", expected " + expected[where]);
    }

    /**
     * Runs {@code total} steps straight on seeded random parameters and gradients; then again with a stop after
     * {@code k}: the state dict goes through a safetensors file and is loaded into a fresh optimizer on fresh
     * copies of the parameters, which continues. Both runs must agree bit for bit (parameters and state).
     */
    static void assertResumesBitForBit(Function<List<ParamGroup>, Optimizer> make, int k, int total, Path dir)
            throws IOException {
        List<Shape> shapes = List.of(new Shape(4, 6), new Shape(6), new Shape(70, 64));
        try (NDManager m = NDManager.newBaseManager()) {
            List<float[][]> grads = new ArrayList<>();
            Random r = new Random(42);
            for (int s = 0; s < total; s++) {
                float[][] g = new float[shapes.size()][];
                for (int i = 0; i < shapes.size(); i++) g[i] = gaussian(r, shapes.get(i).size(), 0.1 * (s + 1));
                grads.add(g);
            }
            float[][] init = new float[shapes.size()][];
            for (int i = 0; i < shapes.size(); i++) init[i] = gaussian(r, shapes.get(i).size(), 1);

            Map<String, NDArray> straight = params(m, shapes, init);
            Optimizer a = make.apply(List.of(new ParamGroup("g", straight, 1.0)));
            run(a, straight, grads, 0, total, m, shapes);

            Map<String, NDArray> first = params(m, shapes, init);
            Optimizer b = make.apply(List.of(new ParamGroup("g", first, 1.0)));
            run(b, first, grads, 0, k, m, shapes);
            Path file = dir.resolve("optimizer-state.safetensors");
            try (NDManager sm = m.newSubManager()) {
                SafeTensorsWriter.writeArrays(file, b.stateDict(sm), Map.of(), null);
            }
            float[][] now = first.values().stream().map(NDArray::toFloatArray).toArray(float[][]::new);
            Map<String, NDArray> resumed = params(m, shapes, now);
            Optimizer c = make.apply(List.of(new ParamGroup("g", resumed, 1.0)));
            try (SafeTensors st = SafeTensors.open(file)) {
                Map<String, NDArray> loaded = new HashMap<>();
                for (String name : st.names()) loaded.put(name, st.load(name, m));
                c.loadStateDict(loaded);
            }
            run(c, resumed, grads, k, total, m, shapes);

            for (String name : straight.keySet()) {
                assertArrayEquals(straight.get(name).toFloatArray(), resumed.get(name).toFloatArray(), name);
            }
            try (NDManager sm = m.newSubManager()) {
                Map<String, NDArray> sa = a.stateDict(sm), sc = c.stateDict(sm);
                assertEquals(sa.keySet(), sc.keySet());
                for (String key : sa.keySet()) {
                    NDArray x = sa.get(key), y = sc.get(key);
                    assertEquals(x.getDataType(), y.getDataType(), key);
                    assertArrayEquals(x.toByteArray(), y.toByteArray(), key);
                }
            }
            assertTrue(Files.size(file) > 0);
        }
    }

    private static Map<String, NDArray> params(NDManager m, List<Shape> shapes, float[][] values) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (int i = 0; i < shapes.size(); i++) {
            NDArray p = m.create(values[i], shapes.get(i));
            p.setRequiresGradient(true);
            out.put("layer" + i + ".weight", p);
        }
        return out;
    }

    private static void run(Optimizer opt, Map<String, NDArray> params, List<float[][]> grads, int from, int to,
                            NDManager m, List<Shape> shapes) {
        for (int s = from; s < to; s++) {
            opt.zeroGrad();
            int i = 0;
            for (NDArray p : params.values()) {
                AdamWTest.setGradient(p, m.create(grads.get(s)[i], shapes.get(i)));
                i++;
            }
            opt.step();
        }
    }

    private static float[] gaussian(Random r, long n, double scale) {
        float[] v = new float[(int) n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian() * scale);
        return v;
    }

    /** {@link #compare} of the optimizer in one call per group against itself tensor by tensor. */
    static double oneCallAgainstTensorByTensor(Function<List<ParamGroup>, ParamStateOptimizer> make, int steps)
            throws IOException {
        return compare(make, g -> make.apply(g).tensorByTensor(), steps);
    }

    /**
     * Runs {@code steps} steps of two optimizers side by side on copies of the fixture UNet's weights with the same
     * random gradients and a falling learning rate; returns the largest difference between the two sets of
     * weights, in ulp of the weight plus ulp of the first learning rate.
     */
    static double compare(Function<List<ParamGroup>, ParamStateOptimizer> makeOne,
                          Function<List<ParamGroup>, ParamStateOptimizer> makeOther, int steps) throws IOException {
        Path unet = sdtrainer.Fixtures.require("tiny-sd15", "unet", "diffusion_pytorch_model.safetensors");
        org.junit.jupiter.api.Assumptions.assumeTrue(OptimizerKernels.available(), "TorchScript kernels unavailable");
        try (NDManager m = NDManager.newBaseManager(); SafeTensors st = SafeTensors.open(unet)) {
            Map<String, NDArray> one = new LinkedHashMap<>(), each = new LinkedHashMap<>();
            for (String name : st.names()) {
                NDArray a = st.load(name, m), b = a.duplicate();
                a.setRequiresGradient(true);
                b.setRequiresGradient(true);
                one.put(name, a);
                each.put(name, b);
            }
            ParamStateOptimizer o = makeOne.apply(List.of(new ParamGroup("unet", one, 1)));
            ParamStateOptimizer e = makeOther.apply(List.of(new ParamGroup("unet", each, 1)));
            double lr0 = o.lr("unet");
            for (int step = 0; step < steps; step++) {
                o.zeroGrad();
                e.zeroGrad();
                m.getEngine().setRandomSeed(step);
                for (String name : one.keySet()) {
                    NDArray g = m.randomNormal(one.get(name).getShape());
                    AdamWTest.setGradient(one.get(name), g);
                    AdamWTest.setGradient(each.get(name), g);
                }
                o.setLr("unet", lr0 * (1 - step / (2.0 * steps)));
                e.setLr("unet", lr0 * (1 - step / (2.0 * steps)));
                o.step();
                e.step();
            }
            double worst = 0;
            for (String name : one.keySet()) {
                float[] a = each.get(name).toFloatArray(), b = one.get(name).toFloatArray();
                for (int i = 0; i < a.length; i++) {
                    worst = Math.max(worst, Math.abs(a[i] - b[i]) / (Math.ulp(a[i]) + Math.ulp((float) lr0)));
                }
            }
            assertTrue(st.readFloats("conv_in.weight")[0] != one.get("conv_in.weight").toFloatArray()[0], "the weights moved");
            return worst;
        }
    }
}

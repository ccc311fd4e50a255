package sdtrainer.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

class InitTest {

    /** Every layer type Init knows, nested as in a real model. */
    static final class Net extends Module {
        final Linear linear = child("linear", new Linear(400, 300, true));
        final Conv2d conv = child("conv", new Conv2d(16, 32, 3, 1, 1));
        final ModuleList<Module> blocks = child("blocks", new ModuleList<>());
        final GroupNorm groupNorm = new GroupNorm(4, 32, 1e-5f);
        final LayerNorm layerNorm = new LayerNorm(300, 1e-5f);
        final Embedding embedding = child("embedding", new Embedding(500, 64));
        final Linear noBias = child("no_bias", new Linear(8, 4, false));

        Net() {
            blocks.add(groupNorm);
            blocks.add(layerNorm);
        }
    }

    /** A module that owns a parameter directly, which Init has no rule for. */
    static final class Scale extends Module {
        Scale() {
            parameter("scale", 3);
        }
    }

    static final class Wrapper extends Module {
        Wrapper() {
            child("inner", new ModuleList<>()).add(new Scale());
        }
    }

    @Test
    void everyParameterGetsTorchsDefaultDistribution() {
        Net net = new Net();
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            Init.torchDefault(net, m, 7);
            net.namedParameters().forEach((k, p) -> assertTrue(p.isSet(), k));

            checkUniform(net.linear.weight.get().toFloatArray(), 1 / Math.sqrt(400));
            checkUniform(net.linear.bias.get().toFloatArray(), 1 / Math.sqrt(400));
            checkUniform(net.conv.weight.get().toFloatArray(), 1 / Math.sqrt(16 * 9));
            checkUniform(net.conv.bias.get().toFloatArray(), 1 / Math.sqrt(16 * 9));
            for (float v : net.groupNorm.weight.get().toFloatArray()) assertEquals(1f, v);
            for (float v : net.groupNorm.bias.get().toFloatArray()) assertEquals(0f, v);
            for (float v : net.layerNorm.weight.get().toFloatArray()) assertEquals(1f, v);
            for (float v : net.layerNorm.bias.get().toFloatArray()) assertEquals(0f, v);

            float[] e = net.embedding.weight.get().toFloatArray();
            assertEquals(0, mean(e), 0.02);
            assertEquals(1, Math.sqrt(variance(e)), 0.02);
        }
    }

    /** Inside ±bound, and spread like U(-bound, bound): mean 0, variance bound²/3. */
    private static void checkUniform(float[] values, double bound) {
        float max = 0;
        for (float v : values) max = Math.max(max, Math.abs(v));
        assertTrue(max <= bound, "max " + max + " > bound " + bound);
        assertTrue(max > 0.9 * bound, "max " + max + " far below bound " + bound);
        double tolerance = 4 * bound / Math.sqrt(3 * values.length);
        assertEquals(0, mean(values), tolerance);
        assertEquals(bound * bound / 3, variance(values), 0.1 * bound * bound / 3 + tolerance * tolerance);
    }

    @Test
    void theSameSeedGivesTheSameWeightsAndAnotherSeedOthers() {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            Net a = new Net(), b = new Net(), c = new Net();
            Init.torchDefault(a, m, 1);
            Init.torchDefault(b, m, 1);
            Init.torchDefault(c, m, 2);
            assertArrayEquals(a.conv.weight.get().toFloatArray(), b.conv.weight.get().toFloatArray());
            assertArrayEquals(a.embedding.weight.get().toFloatArray(), b.embedding.weight.get().toFloatArray());
            assertFalse(java.util.Arrays.equals(a.conv.weight.get().toFloatArray(), c.conv.weight.get().toFloatArray()));
        }
    }

    @Test
    void aModuleWithParametersOfItsOwnThatInitDoesNotKnowIsAnError() {
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Init.torchDefault(new Wrapper(), m, 0));
            assertTrue(e.getMessage().contains("Scale") && e.getMessage().contains("'inner.0'"), e.getMessage());
        }
    }

    private static double mean(float[] v) {
        double s = 0;
        for (float x : v) s += x;
        return s / v.length;
    }

    private static double variance(float[] v) {
        double mu = mean(v), s = 0;
        for (float x : v) s += (x - mu) * (x - mu);
        return s / v.length;
    }
}

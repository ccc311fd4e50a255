package sdtrainer.train.optim;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.io.SafeTensors;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Against prodigyopt @ 3efb213: the shared fixture (defaults, d stays at d0) and own cases from
 * src/test/resources/optim/make_reference.py with a larger d0, bias correction, safeguard warm-up, d_coef,
 * coupled decay without beta1, and gradients of a quadratic, under which d grows; d, d_max and d_numerator
 * are compared after every step.
 */
class ProdigyTest {

    private static Prodigy.Options options(double beta1, double beta2, double wd, boolean decouple, boolean biasCorrection,
                                           boolean safeguard, double d0, double dCoef) {
        return new Prodigy.Options(beta1, beta2, Double.NaN, 1e-8, wd, decouple, biasCorrection, safeguard, d0, dCoef,
                Double.POSITIVE_INFINITY, 1);
    }

    private static void check(Path file, Prodigy.Options o, double lr) throws IOException {
        double[][] scalars = scalars(file);
        OptimizerCases.assertMatches(file, g -> new Prodigy(OptimizerTestGroups.withLr(g, lr), o), 1e-7, 1e-5, (opt, s) -> {
            Map<String, Double> got = ((Prodigy) opt).scalars();
            assertEquals(scalars[0][s], got.get("d"), 1e-6 * scalars[0][s], "d after step " + s);
            assertEquals(scalars[1][s], got.get("d_max"), 1e-6 * scalars[1][s], "d_max after step " + s);
            assertEquals(scalars[2][s], got.get("d_numerator"), 1e-5 * Math.abs(scalars[2][s]) + 1e-18,
                    "d_numerator after step " + s);
            assertEquals(got.get("d") * lr, opt.lr("g"), 0, "lr reports d * lr");
        });
    }

    /** d, d_max, d_numerator after each step, from the case's metadata. */
    private static double[][] scalars(Path file) throws IOException {
        try (SafeTensors st = SafeTensors.open(file)) {
            var node = new com.fasterxml.jackson.databind.ObjectMapper().readTree(st.metadata().get("params")).get("scalars");
            double[][] out = new double[3][];
            String[] keys = {"d", "d_max", "d_numerator"};
            for (int i = 0; i < 3; i++) {
                var a = node.get(keys[i]);
                out[i] = new double[a.size()];
                for (int j = 0; j < a.size(); j++) out[i][j] = a.get(j).asDouble();
            }
            return out;
        }
    }

    @Test
    void matchesTheSharedFixture() throws IOException {
        OptimizerCases.assertMatches(Fixtures.require("recipes", "optimizer_prodigy.safetensors"),
                g -> new Prodigy(g, options(0.9, 0.999, 1e-2, true, false, false, 1e-6, 1)), 1e-7, 1e-6, (o, s) -> {});
        check(OptimizerCases.resource("prodigy_defaults_d.safetensors"),
                options(0.9, 0.999, 1e-2, true, false, false, 1e-6, 1), 1.0);
    }

    @Test
    void largerD0WithBiasCorrectionSafeguardWarmupAndDCoef() throws IOException {
        check(OptimizerCases.resource("prodigy_d0_1e-2.safetensors"),
                options(0.9, 0.999, 1e-2, true, true, true, 1e-2, 2.0), 1.0);
    }

    @Test
    void coupledDecayWithoutFirstMoment() throws IOException {
        check(OptimizerCases.resource("prodigy_d0_1e-3_coupled_nobeta1.safetensors"),
                options(0.0, 0.99, 1e-2, false, false, false, 1e-3, 1.0), 0.5);
    }

    @Test
    void dGrowsOnAQuadratic() throws IOException {
        Path file = OptimizerCases.resource("prodigy_quadratic_growing_d.safetensors");
        double[][] s = scalars(file);
        assertTrue(s[0][s[0].length - 1] > 2 * s[0][0], "the case makes d grow");
        check(file, options(0.9, 0.999, 0, true, true, false, 1e-4, 1.0), 1.0);
    }

    @Test
    void groupsShareOneLearningRate() {
        try (NDManager m = NDManager.newBaseManager()) {
            List<ParamGroup> groups = List.of(new ParamGroup("a", Map.of("x", m.ones(new ai.djl.ndarray.types.Shape(1))), 1.0),
                    new ParamGroup("b", Map.of("y", m.ones(new ai.djl.ndarray.types.Shape(1))), 0.5));
            assertThrows(IllegalArgumentException.class, () -> new Prodigy(groups, Prodigy.Options.defaults()));
        }
    }

    @Test
    void resumesBitForBit(@TempDir Path dir) throws IOException {
        OptimizerCases.assertResumesBitForBit(g -> new Prodigy(g, options(0.9, 0.999, 1e-2, true, true, false, 1e-3, 1)),
                2, 4, dir);
    }
}

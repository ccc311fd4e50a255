package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import sdtrainer.config.OptimizerArgs;
import sdtrainer.config.OptimizerType;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OptimizersTest {

    /** Every optimizer the factory makes, with its defaults, brings 0.5 |p - 3|^2 down. */
    @ParameterizedTest
    @EnumSource(OptimizerType.class)
    void everyOptimizerMinimisesAQuadratic(OptimizerType type) {
        // min_8bit_size 0: the 8-bit ones quantise even this small tensor
        OptimizerArgs args = type.args().containsKey("min_8bit_size") ? OptimizerArgs.parse("min_8bit_size=0")
                : OptimizerArgs.NONE;
        double lr = switch (type) {
            case PRODIGY, ADAFACTOR -> 1.0;
            case SGD -> 0.1;
            default -> 0.05;
        };
        try (NDManager m = NDManager.newBaseManager()) {
            float[] start = new float[64];
            // away from 0: Adafactor scales its step by the parameter's RMS
            java.util.Arrays.fill(start, 2f);
            NDArray p = AdamWTest.param(m, new Shape(8, 8), start);
            Optimizer opt = Optimizers.create(type, args, List.of(new ParamGroup("g", Map.of("p", p), lr)));
            double first = loss(p);
            for (int i = 0; i < 60; i++) {
                opt.zeroGrad();
                AdamWTest.setGradient(p, p.sub(3f));
                opt.step();
            }
            assertTrue(loss(p) < 0.5 * first, type + ": loss " + first + " -> " + loss(p));
        }
    }

    private static double loss(NDArray p) {
        return p.sub(3f).square().sum().getFloat() / 2;
    }

    @Test
    void argumentsReachTheOptimizer() {
        try (NDManager m = NDManager.newBaseManager()) {
            List<ParamGroup> groups = List.of(new ParamGroup("g", Map.of("p", m.ones(new Shape(3000, 2))), 1e-3));
            Optimizer small = Optimizers.create(OptimizerType.ADAMW8BIT, OptimizerArgs.parse("min_8bit_size=0"), groups);
            Optimizer big = Optimizers.create(OptimizerType.ADAMW8BIT, OptimizerArgs.parse("min_8bit_size=10000"), groups);
            assertInstanceOf(BlockQuantized8bit.class, small);
            assertEquals(6000 * 8, big.stateBytes(), "below min_8bit_size: float32 moments");
            assertEquals(6000 * 2 + 2 * 3 * 4, small.stateBytes());
            Optimizer adafactor = Optimizers.create(OptimizerType.ADAFACTOR,
                    OptimizerArgs.parse("relative_step=False,scale_parameter=False"), groups);
            assertEquals(1e-3, adafactor.lr("g"), "a fixed lr is the group's");
            assertEquals(1e-2 * 1, Optimizers.create(OptimizerType.ADAFACTOR, OptimizerArgs.NONE, groups).lr("g"), 1e-9,
                    "relative step 1e-2 times the RMS of a tensor of ones");
            Prodigy prodigy = (Prodigy) Optimizers.create(OptimizerType.PRODIGY, OptimizerArgs.parse("d0=1e-3"), groups);
            assertEquals(1e-3, prodigy.d());
        }
    }
}

package sdtrainer.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** libtorch's group_norm and silu (through our TorchScript module) equal their DJL compositions, gradients included. */
class NormActivationKernelsTest {

    @AfterEach
    void restoreDefault() {
        Ops.useFusedKernels(true);
    }

    /**
     * Output of silu(group_norm(x)), then the gradients of x, weight and bias for the loss sum(out * w); oneCall
     * takes {@link Ops#groupNormSilu}, else the two ops.
     */
    private static List<float[]> run(boolean fused, boolean oneCall) {
        Ops.useFusedKernels(fused);
        try (NDManager m = NDManager.newBaseManager()) {
            Noise n = new Noise(5);
            NDArray x = n.gaussian(m, new Shape(2, 8, 5, 3), m.getDevice()).mul(3).add(1);
            NDArray weight = n.gaussian(m, new Shape(8), m.getDevice());
            NDArray bias = n.gaussian(m, new Shape(8), m.getDevice());
            NDArray w = n.gaussian(m, x.getShape(), m.getDevice());
            for (NDArray p : new NDArray[] {x, weight, bias}) p.setRequiresGradient(true);
            List<float[]> out = new ArrayList<>();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray y = oneCall ? Ops.groupNormSilu(x, 4, weight, bias, 1e-5f)
                        : Ops.silu(Ops.groupNorm(x, 4, weight, bias, 1e-5f));
                out.add(y.toFloatArray());
                gc.backward(y.mul(w).sum());
            }
            for (NDArray p : new NDArray[] {x, weight, bias}) out.add(p.getGradient().toFloatArray());
            return out;
        }
    }

    private static void assertClose(List<float[]> expected, List<float[]> actual) {
        String[] what = {"output", "dx", "dweight", "dbias"};
        for (int t = 0; t < what.length; t++) {
            float[] e = expected.get(t), a = actual.get(t);
            assertEquals(e.length, a.length);
            float err = 0, size = 0;
            for (int i = 0; i < e.length; i++) {
                err = Math.max(err, Math.abs(e[i] - a[i]));
                size = Math.max(size, Math.abs(e[i]));
            }
            assertEquals(0f, err, 2e-6f * Math.max(1, size), what[t] + " max abs difference");
        }
    }

    @Test
    void groupNormAndSiluMatchTheirCompositionsWithGradients() {
        assertClose(run(false, false), run(true, false));
    }

    @Test
    void groupNormSiluInOneCallMatchesTheTwoOpsWithGradients() {
        assertClose(run(false, false), run(true, true));
    }

    /** Without autograd the one call overwrites the norm's output in place; the values are the two ops' exactly. */
    @Test
    void groupNormSiluWithoutGradModeEqualsTheTwoKernels() {
        try (NDManager m = NDManager.newBaseManager(); NoGrad ignored = new NoGrad()) {
            Noise n = new Noise(7);
            NDArray x = n.gaussian(m, new Shape(2, 8, 6, 4), m.getDevice()).mul(2);
            NDArray weight = n.gaussian(m, new Shape(8), m.getDevice());
            NDArray bias = n.gaussian(m, new Shape(8), m.getDevice());
            float[] before = x.toFloatArray();
            NDArray twoOps = Ops.silu(Ops.groupNorm(x, 2, weight, bias, 1e-6f));
            NDArray oneCall = Ops.groupNormSilu(x, 2, weight, bias, 1e-6f);
            assertArrayEquals(twoOps.toFloatArray(), oneCall.toFloatArray());
            assertArrayEquals(before, x.toFloatArray(), "the input is left as it was");
        }
    }

    /** A block run in channels-last order gives the plain-order result, in plain order (element by element). */
    @Test
    void channelsLastGivesThePlainResultBack() {
        try (NDManager m = NDManager.newBaseManager(); NoGrad ignored = new NoGrad()) {
            Noise n = new Noise(9);
            Conv2d conv = new Conv2d(3, 32, 3, 1, 1);
            GroupNorm norm = new GroupNorm(8, 32, 1e-6f);
            for (Module mod : new Module[] {conv, norm}) {
                mod.namedParameters().values().forEach(p -> p.set(n.gaussian(m, p.shape(), m.getDevice())));
            }
            NDArray x = n.gaussian(m, new Shape(2, 3, 16, 12), m.getDevice());
            java.util.function.UnaryOperator<NDArray> block = a -> Ops.silu(norm.forward(conv.forward(a)));
            float[] plain = block.apply(x).toFloatArray();
            NDArray last = Ops.inChannelsLast(x, block);
            assertEquals(new Shape(2, 32, 16, 12), last.getShape());
            float[] got = last.toFloatArray();
            float err = 0;
            for (int i = 0; i < plain.length; i++) err = Math.max(err, Math.abs(plain[i] - got[i]));
            assertEquals(0f, err, 1e-5f, "max abs difference");
        }
    }

    @Test
    void withoutGradModeNoGraphIsBuilt() {
        try (NDManager m = NDManager.newBaseManager(); NoGrad ignored = new NoGrad()) {
            NDArray x = m.ones(new Shape(1, 4, 2, 2));
            NDArray weight = m.ones(new Shape(4));
            weight.setRequiresGradient(true);
            NDArray y = TorchScriptKernels.groupNorm(x, 2, weight, m.zeros(new Shape(4)), 1e-5f, false);
            assertNotNull(y, "the kernels load");
            assertEquals(new Shape(1, 4, 2, 2), y.getShape());
            assertFalse(y.hasGradient(), "no autograd state under no-grad");
        }
    }
}

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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/** libtorch's fused attention (reached through our TorchScript module) equals matmul + softmax, gradients included. */
class AttentionTest {

    @AfterEach
    void restoreDefault() {
        Ops.useFusedKernels(true);
    }

    /** Output, then the gradients of q, k, v and the mask-free loss sum(out * w). */
    private static List<float[]> run(boolean fused, boolean masked) {
        Ops.useFusedKernels(fused);
        try (NDManager m = NDManager.newBaseManager()) {
            Noise n = new Noise(11);
            NDArray q = n.gaussian(m, new Shape(2, 7, 24), m.getDevice());
            NDArray k = n.gaussian(m, new Shape(2, masked ? 7 : 5, 24), m.getDevice());
            NDArray v = n.gaussian(m, k.getShape(), m.getDevice());
            NDArray w = n.gaussian(m, new Shape(2, 7, 24), m.getDevice());
            NDArray mask = null;
            if (masked) {
                float[] causal = new float[49];
                for (int i = 0; i < 7; i++) for (int j = i + 1; j < 7; j++) causal[i * 7 + j] = -1e9f;
                mask = m.create(causal, new Shape(1, 1, 7, 7));
            }
            for (NDArray x : new NDArray[] {q, k, v}) x.setRequiresGradient(true);
            List<float[]> out = new ArrayList<>();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray a = Ops.attention(q, k, v, 3, mask);
                out.add(a.toFloatArray());
                gc.backward(a.mul(w).sum());
            }
            for (NDArray x : new NDArray[] {q, k, v}) out.add(x.getGradient().toFloatArray());
            return out;
        }
    }

    private static void assertClose(List<float[]> expected, List<float[]> actual) {
        String[] what = {"output", "dq", "dk", "dv"};
        for (int t = 0; t < expected.size(); t++) {
            float[] e = expected.get(t), a = actual.get(t);
            assertEquals(e.length, a.length);
            float err = 0;
            for (int i = 0; i < e.length; i++) err = Math.max(err, Math.abs(e[i] - a[i]));
            assertEquals(0f, err, 2e-6f, what[t] + " max abs difference");
        }
    }

    @Test
    void fusedKernelsAreAvailableOnThisEngine() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.ones(new Shape(1, 1, 2, 4));
            NDArray out = TorchScriptKernels.attention(x, x, x, null);
            assertNotNull(out, "the TorchScript module loads and runs");
            assertSame(m, out.getManager(), "the result belongs to the caller's manager");
        }
    }

    @Test
    void crossAttentionMatchesMatmulSoftmax() {
        assertClose(run(false, false), run(true, false));
    }

    @Test
    void maskedSelfAttentionMatchesMatmulSoftmax() {
        assertClose(run(false, true), run(true, true));
    }
}

package sdtrainer.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** --max_grad_norm as torch.nn.utils.clip_grad_norm_: the global norm, and a common scale when it is exceeded. */
class GradClipTest {

    @Test
    void scalesAllGradientsByOneFactorAndReportsTheNormBefore() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.create(new float[] {1, 2, 2});
            NDArray b = m.create(new float[] {4});
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                // gradients (3, 6, 6) and (12): global norm sqrt(9 + 36 + 36 + 144) = 15
                gc.backward(a.mul(a).sum().add(b.mul(b).sum()).mul(1.5f));
            }
            assertEquals(15.0, new GradClip(30).apply(List.of(a, b)), 1e-6);
            assertArrayEquals(new float[] {3, 6, 6}, a.getGradient().toFloatArray(), "below the limit nothing changes");
            assertEquals(15.0, new GradClip(1).apply(List.of(a, b)), 1e-6);
            float coef = 1f / (15f + 1e-6f);
            assertArrayEquals(new float[] {3 * coef, 6 * coef, 6 * coef}, a.getGradient().toFloatArray(), 1e-7f);
            assertArrayEquals(new float[] {12 * coef}, b.getGradient().toFloatArray(), 1e-7f);
            assertTrue(Double.isNaN(new GradClip(0).apply(List.of(a, b))), "off: not computed");
        }
    }
}

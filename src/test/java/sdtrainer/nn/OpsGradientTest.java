package sdtrainer.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Scalar ops keep their scalar alive until the backward pass, even when the garbage collector frees and
 * reuses Java-owned memory between forward and backward (the cause of the intermittent NaN losses seen with
 * DJL's {@code x.mul(Number)}, whose scalar lives in a Java buffer that is released right after the op).
 */
class OpsGradientTest {

    private static void assertGradientAfterMemoryChurn(BiFunction<NDArray, Float, NDArray> op, float s, float expected) {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.create(new float[] {1f, -2f, 3f, 0.5f}, new Shape(4));
            x.setRequiresGradient(true);
            for (int round = 0; round < 20; round++) {
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray y = op.apply(x, s).sum();
                    churn();
                    gc.backward(y);
                }
                try (NDArray g = x.getGradient()) {
                    assertArrayEquals(new float[] {expected, expected, expected, expected}, g.toFloatArray(), 1e-6f,
                            "gradient in round " + round);
                }
                ai.djl.pytorch.jni.JniUtils.zeroGrad((ai.djl.pytorch.engine.PtNDArray) x);
            }
        }
    }

    /** Frees unreachable direct buffers and fills fresh ones with NaN bits, so freed memory is likely reused. */
    private static void churn() {
        System.gc();
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<ByteBuffer> keep = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            ByteBuffer b = ByteBuffer.allocateDirect(4 + (i % 4) * 4).order(ByteOrder.nativeOrder());
            while (b.remaining() >= 4) b.putFloat(Float.NaN);
            keep.add(b);
        }
    }

    @Test
    void scaleGradientSurvivesFreedJavaMemory() {
        assertGradientAfterMemoryChurn(Ops::scale, 2.5f, 2.5f);
    }

    @Test
    void divideGradientSurvivesFreedJavaMemory() {
        assertGradientAfterMemoryChurn(Ops::divide, 4f, 0.25f);
    }
}

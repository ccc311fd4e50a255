package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Replays a fixture's recorded draws in order, failing when a piece asks for a shape or kind it did not draw. */
final class RecordedDraws implements Draws {
    private final Deque<NDArray> gaussians;
    private final Deque<Double> uniforms;

    RecordedDraws(List<NDArray> gaussians, List<Double> uniforms) {
        this.gaussians = new ArrayDeque<>(gaussians);
        this.uniforms = new ArrayDeque<>(uniforms);
    }

    @Override
    public NDArray gaussian(NDManager m, Shape shape) {
        assertFalse(gaussians.isEmpty(), "more gaussian draws than recorded");
        NDArray next = gaussians.poll();
        assertEquals(next.getShape(), shape, "shape of the next recorded gaussian draw");
        return next;
    }

    @Override
    public double uniform() {
        assertFalse(uniforms.isEmpty(), "more uniform draws than recorded");
        return uniforms.poll();
    }

    /** Whether every recorded draw was used. */
    boolean exhausted() {
        return gaussians.isEmpty() && uniforms.isEmpty();
    }
}

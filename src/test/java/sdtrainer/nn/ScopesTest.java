package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScopesTest {

    @Test
    void computeFreesIntermediatesAndHandsTheResultAndTheKeptArraysToTheEnclosingScope() {
        try (NDManager m = NDManager.newBaseManager()) {
            List<NDArray> made = new ArrayList<>();
            NDArray result, kept;
            try (NDScope outer = new NDScope()) {
                NDArray[] keep = new NDArray[1];
                result = Scopes.compute(() -> {
                    NDArray a = m.create(new float[] {1, 2});
                    NDArray b = a.mul(3);
                    keep[0] = b.add(1);
                    made.add(a);
                    made.add(b);
                    return b.sum();
                }, () -> List.of(keep[0]));
                kept = keep[0];
                for (NDArray x : made) assertTrue(x.isReleased(), "an intermediate is freed when compute returns");
                assertFalse(result.isReleased());
                assertFalse(kept.isReleased());
                assertArrayEquals(new float[] {9}, result.toFloatArray());
                assertArrayEquals(new float[] {4, 7}, kept.toFloatArray());
            }
            assertTrue(result.isReleased(), "the result belongs to the enclosing scope");
            assertTrue(kept.isReleased(), "so does a kept array");
        }
    }

    @Test
    void aChainWithoutAutogradFreesEachIntermediateButNotTheInput() {
        try (NDManager m = NDManager.newBaseManager(); NDScope outer = new NDScope(); NoGrad ignored = new NoGrad()) {
            NDArray input = m.create(new float[] {1, 2});
            List<NDArray> outs = new ArrayList<>();
            NDArray h = Scopes.chain(input, List.of(x -> keep(outs, x.add(1)), x -> keep(outs, x.mul(2)),
                    x -> keep(outs, x.sub(1))));
            assertFalse(input.isReleased());
            assertTrue(outs.get(0).isReleased() && outs.get(1).isReleased(), "each block's output goes once the next exists");
            assertArrayEquals(new float[] {3, 5}, h.toFloatArray());
        }
    }

    private static NDArray keep(List<NDArray> outs, NDArray x) {
        outs.add(x);
        return x;
    }
}

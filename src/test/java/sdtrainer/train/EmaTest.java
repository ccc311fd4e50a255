package sdtrainer.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The EMA follows diffusers' EMAModel: first update copies, then ema -= (1 - decay)(ema - param). */
class EmaTest {

    @Test
    void decaysAsDiffusersEmaModel() {
        try (NDManager m = NDManager.newBaseManager()) {
            Ema plain = new Ema(Map.of("w", m.zeros(new ai.djl.ndarray.types.Shape(1))), 0.99, false, Device.cpu());
            Ema warm = new Ema(Map.of("w", m.zeros(new ai.djl.ndarray.types.Shape(1))), 0.99, true, Device.cpu());
            assertEquals(0.0, plain.decayAt(1));
            assertEquals(0.99, plain.decayAt(2));
            assertEquals(2.0 / 11, warm.decayAt(2), 1e-15);
            assertEquals(0.99, warm.decayAt(100000));
        }
    }

    @Test
    void averagesAndSwapsInAndBack() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray w = m.create(new float[] {1, 2});
            Ema ema = new Ema(Map.of("w", w), 0.5, false, Device.cpu());
            w.set(new ai.djl.ndarray.index.NDIndex("..."), m.create(new float[] {3, 4}));
            ema.update(1);
            assertArrayEquals(new float[] {3, 4}, ema.tensors().get("w").toFloatArray(), "the first update copies");
            w.set(new ai.djl.ndarray.index.NDIndex("..."), m.create(new float[] {5, 8}));
            ema.update(2);
            assertArrayEquals(new float[] {4, 6}, ema.tensors().get("w").toFloatArray());
            try (AutoCloseable swapped = ema.swappedIn()) {
                assertArrayEquals(new float[] {4, 6}, w.toFloatArray());
            }
            assertArrayEquals(new float[] {5, 8}, w.toFloatArray(), "the trained values are back");
        }
    }
}

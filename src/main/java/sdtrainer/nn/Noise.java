package sdtrainer.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import java.util.Random;

/**
 * Standard-normal tensors drawn from a seeded Java generator: the same seed gives the same numbers on
 * every machine and device, independent of the engine's own generator state.
 */
public final class Noise {
    private final Random random;

    public Noise(long seed) {
        random = new Random(seed);
    }

    public NDArray gaussian(NDManager manager, Shape shape, Device device) {
        float[] values = new float[Math.toIntExact(shape.size())];
        for (int i = 0; i < values.length; i++) values[i] = (float) random.nextGaussian();
        return manager.create(values, shape).toDevice(device, false);
    }

    /** Uniform integers in [lo, hi), one per element. */
    public long[] integers(int count, int lo, int hi) {
        long[] out = new long[count];
        for (int i = 0; i < count; i++) out[i] = lo + random.nextInt(hi - lo);
        return out;
    }

    public Random random() {
        return random;
    }
}

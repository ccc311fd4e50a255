package sdtrainer.nn;

import ai.djl.ndarray.NDArray;

/**
 * Counts the floating-point operations of the matrix products (linear layers, convolutions, attention) while a
 * count is open, for {@code bench}'s achieved GFLOP/s: 2 per multiply-add, from the shapes. For training, the
 * backward adds one forward's worth for the weight's gradient where the weight trains, and one for the input's
 * gradient once any op run before it in the step trained (ops run in order, so their inputs then lie downstream
 * of a trained tensor; DJL cannot ask libtorch whether a non-leaf needs a gradient). Elementwise ops and the
 * adapters' own products are left out (a few per cent at most). One count at a time, on the model's thread.
 */
public final class Flops implements AutoCloseable {
    private static volatile Flops open;
    private long total;
    private boolean upstreamTrains;

    private Flops() {}

    /** Starts counting; {@link #close} stops. */
    public static Flops count() {
        Flops f = new Flops();
        open = f;
        return f;
    }

    @Override
    public void close() {
        if (open == this) open = null;
    }

    public long total() {
        return total;
    }

    static boolean counting() {
        return open != null;
    }

    /** A product of {@code forward} FLOPs with {@code weight} (null: none); {@code adapted}: an adapter trains beside it. */
    static void add(long forward, Parameter weight, boolean adapted) {
        Flops f = open;
        if (f == null) return;
        boolean trains = weight != null && weight.isTrainable();
        f.total += forward + (trains ? forward : 0) + (f.upstreamTrains ? forward : 0);
        f.upstreamTrains |= trains || adapted;
    }

    /** Attention of [B, Lq, inner] queries over Lk keys: QK^T and PV, and twice that backward. */
    static void attention(NDArray q, long keys) {
        Flops f = open;
        if (f == null) return;
        long forward = 4 * q.getShape().size() * keys;
        f.total += f.upstreamTrains ? 3 * forward : forward;
    }
}

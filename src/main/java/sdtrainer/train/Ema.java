package sdtrainer.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import sdtrainer.nn.NoGrad;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * --ema_decay: an exponential moving average of the trained tensors in float32, updated after every optimizer
 * step as diffusers' EMAModel does ({@code ema -= (1 - decay) * (ema - param)}; the first update copies). With
 * --ema_warmup the decay is min(D, (1 + s) / (10 + s)) for the s-th update after the first; otherwise D.
 * The averages may live on another device (--ema_device cpu) to save device memory.
 */
final class Ema {
    private final Map<String, NDArray> params;
    private final Map<String, NDArray> average = new LinkedHashMap<>();
    private final double decay;
    private final boolean warmup;

    Ema(Map<String, NDArray> params, double decay, boolean warmup, Device device) {
        this.params = params;
        this.decay = decay;
        this.warmup = warmup;
        try (NoGrad ignored = new NoGrad()) {
            params.forEach((k, p) -> {
                // duplicate: toType to the same type may return the parameter itself
                NDArray copy = p.duplicate();
                NDArray a = copy.toType(DataType.FLOAT32, false).toDevice(device, false);
                if (a != copy) copy.close();
                NDScope.unregister(a);
                average.put(k, a);
            });
        }
    }

    /** The decay of the {@code update}-th update (1-based), as diffusers' EMAModel.get_decay with no delay. */
    double decayAt(long update) {
        long s = update - 1;
        if (s <= 0) return 0;
        return warmup ? Math.min(decay, (1.0 + s) / (10.0 + s)) : decay;
    }

    /** Moves the averages toward the current weights; {@code update} counts optimizer steps from 1. */
    void update(long update) {
        float oneMinus = (float) (1 - decayAt(update));
        try (NDScope scope = new NDScope(); NoGrad ignored = new NoGrad()) {
            for (Map.Entry<String, NDArray> e : average.entrySet()) {
                NDArray a = e.getValue();
                NDArray p = params.get(e.getKey()).toDevice(a.getDevice(), false).toType(DataType.FLOAT32, false);
                a.subi(a.sub(p).muli(oneMinus));
            }
        }
    }

    /** The averages by the trained tensors' names (the EMA's own arrays: do not close them). */
    Map<String, NDArray> tensors() {
        return average;
    }

    /**
     * Copies the averages into the trained tensors until the returned handle is closed, which puts the trained
     * values back: for saving the EMA weights and drawing samples with them.
     */
    AutoCloseable swappedIn() {
        Map<String, NDArray> raw = new LinkedHashMap<>();
        try (NoGrad ignored = new NoGrad()) {
            params.forEach((k, p) -> {
                NDArray copy = p.duplicate();
                NDScope.unregister(copy);
                raw.put(k, copy);
                copyInto(p, average.get(k));
            });
        }
        return () -> {
            try (NoGrad ignored = new NoGrad()) {
                raw.forEach((k, copy) -> {
                    copyInto(params.get(k), copy);
                    copy.close();
                });
            }
        };
    }

    /** Replaces the averages' values with a saved state's (shapes checked by the caller). */
    void load(Map<String, NDArray> saved) {
        try (NoGrad ignored = new NoGrad()) {
            saved.forEach((k, v) -> copyInto(average.get(k), v));
        }
    }

    private static void copyInto(NDArray target, NDArray values) {
        NDArray onDevice = values.toDevice(target.getDevice(), false);
        target.set(new NDIndex("..."), onDevice);
        if (onDevice != values) onDevice.close();
    }
}

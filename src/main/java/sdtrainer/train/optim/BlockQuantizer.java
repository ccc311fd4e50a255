package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.engine.PtNDManager;

import java.util.Arrays;

/**
 * Block-wise 8-bit quantisation as bitsandbytes keeps optimizer state: each block of {@code blockSize} values
 * is divided by its largest magnitude (absmax, kept as float32; an all-zero block keeps 1) and each value
 * becomes the index of the nearest entry of the dynamic 8-bit code of Dettmers et al. 2021 (signed for
 * values of either sign, unsigned for non-negative ones). The code lives on the device of the arrays it
 * was made for, outside every scope.
 */
final class BlockQuantizer {

    private final NDArray code;
    private final NDArray bounds;
    private final int blockSize;

    BlockQuantizer(NDManager manager, boolean signed, int blockSize) {
        if (blockSize < 1) throw new IllegalArgumentException("block size must be positive, got " + blockSize);
        this.blockSize = blockSize;
        this.code = manager.create(dynamicMap(signed));
        try (NDArray lo = code.get("0:255"); NDArray hi = code.get("1:")) {
            // nearest entry = bucket among the midpoints (the code is sorted)
            this.bounds = lo.add(hi).divi(2);
        }
        NDScope.unregister(code, bounds);
    }

    int blockSize() { return blockSize; }

    static long blocks(long n, int blockSize) {
        return (n + blockSize - 1) / blockSize;
    }

    /**
     * bitsandbytes' create_dynamic_map(signed, max_exponent_bits=7, total_bits=8): for exponent i = 0..6,
     * the midpoints of linspace(0.1, 1) (2^i + 1 points signed, 2^(i+1) + 1 unsigned) times 10^(i-6), with
     * their negatives when signed, plus 0 and 1, sorted; in float32 as there. The linspace follows torch's
     * scalar formula; torch's vectorised one rounds some points differently by CPU, so entries can differ
     * from a given bitsandbytes run by an ulp or two. Computed here in Java, the code is the same on every
     * machine, so saved codes mean the same everywhere.
     */
    static float[] dynamicMap(boolean signed) {
        float[] data = new float[256];
        int n = 0;
        for (int i = 0; i < 7; i++) {
            float[] b = linspace(0.1f, 1f, signed ? (1 << i) + 1 : (1 << (i + 1)) + 1);
            float scale = (float) Math.pow(10, i - 6);
            for (int j = 0; j + 1 < b.length; j++) {
                float v = (b[j] + b[j + 1]) / 2f * scale;
                data[n++] = v;
                if (signed) data[n++] = -v;
            }
        }
        data[n++] = 0;
        data[n++] = 1;
        if (n != 256) throw new AssertionError(n);
        Arrays.sort(data);
        return data;
    }

    /** torch.linspace in float32, its scalar path: from the start for the first half, from the end for the rest. */
    private static float[] linspace(float start, float end, int steps) {
        float step = (end - start) / (steps - 1);
        float[] out = new float[steps];
        for (int i = 0; i < steps; i++) out[i] = i < steps / 2 ? start + step * i : end - step * (steps - i - 1);
        return out;
    }

    /** Quantises {@code x} into {@code codes} (UINT8, x's shape) and {@code absmax} (one per block), in place. */
    void quantize(NDArray x, NDArray codes, NDArray absmax) {
        OptimizerKernels.quantize(x, bounds, blockSize, codes, absmax);
    }

    /** The float32 values of {@code codes} (shape kept), each times its block's absmax. */
    NDArray dequantize(NDArray codes, NDArray absmax) {
        try (NDArray values = OptimizerKernels.dequantize(codes, absmax, code, blockSize, (PtNDManager) codes.getManager())) {
            // a copy outside the module's inference mode, so the optimizer may update it in place
            return values.duplicate();
        }
    }

    /** The code's entries, for tests and error bounds. */
    float[] code() {
        return code.toFloatArray();
    }
}

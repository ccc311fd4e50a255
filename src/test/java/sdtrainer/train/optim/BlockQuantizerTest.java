package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import sdtrainer.io.SafeTensors;

import java.io.IOException;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlockQuantizerTest {

    @Test
    void dynamicMapsAreBitsandbytes() throws IOException {
        // bitsandbytes' create_dynamic_map(signed=True / False), run by make_reference.py on torch 1.13
        try (SafeTensors st = SafeTensors.open(OptimizerCases.resource("dynamic_map.safetensors"))) {
            for (boolean signed : new boolean[] {true, false}) {
                float[] expected = st.readFloats(signed ? "output.signed" : "output.unsigned");
                float[] got = BlockQuantizer.dynamicMap(signed);
                assertEquals(0f, got[Arrays.binarySearch(got, 0f)]);
                for (int i = 0; i < 256; i++) {
                    // torch's vectorised linspace rounds some points an ulp or two away from its scalar formula
                    assertEquals(expected[i], got[i], 2 * Math.ulp(expected[i]), (signed ? "signed" : "unsigned") + " entry " + i);
                }
            }
        }
    }

    /**
     * Every value comes back within the distance from its scaled value to the farther of the two code entries
     * around it (the most that rounding to the nearest can move it) times its block's absmax, and each block's
     * absmax is its largest magnitude.
     */
    @Test
    void roundTripIsWithinTheCodesResolution() {
        int block = 64;
        long n = 5 * block + 17; // a partial last block
        Random r = new Random(3);
        float[] x = new float[(int) n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(4) - 2));
        for (int i = 2 * block; i < 3 * block; i++) x[i] = 0; // an all-zero block
        for (boolean signed : new boolean[] {true, false}) {
            try (NDManager m = NDManager.newBaseManager()) {
                float[] values = x.clone();
                if (!signed) for (int i = 0; i < n; i++) values[i] = Math.abs(values[i]);
                BlockQuantizer q = new BlockQuantizer(m, signed, block);
                NDArray codes = m.zeros(new Shape(n), DataType.UINT8);
                NDArray absmax = m.zeros(new Shape(BlockQuantizer.blocks(n, block)));
                q.quantize(m.create(values), codes, absmax);
                float[] back = q.dequantize(codes, absmax).toFloatArray();
                float[] scales = absmax.toFloatArray();
                float[] code = q.code();
                assertEquals(6, scales.length);
                assertEquals(1f, scales[2], "an all-zero block keeps scale 1");
                for (int i = 0; i < n; i++) {
                    float a = scales[i / block];
                    double scaled = values[i] / a;
                    double gap = halfGap(code, scaled);
                    // plus float32 rounding of code * absmax
                    assertTrue(Math.abs(back[i] - values[i]) <= gap * a + 2 * Math.ulp(values[i]),
                            "value " + i + ": " + values[i] + " came back as " + back[i]);
                }
                for (int b = 0; b < scales.length; b++) {
                    float max = 0;
                    for (int i = b * block; i < Math.min(n, (b + 1) * block); i++) max = Math.max(max, Math.abs(values[i]));
                    if (max > 0) assertEquals(max, scales[b], "absmax of block " + b);
                }
            }
        }
    }

    /** The most that rounding {@code v} to the nearest code entry can move it. */
    private static double halfGap(float[] code, double v) {
        if (v <= code[0]) return code[0] - v;
        for (int i = 1; i < code.length; i++) {
            if (v <= code[i]) return (code[i] - code[i - 1]) / 2.0;
        }
        return v - code[code.length - 1];
    }
}

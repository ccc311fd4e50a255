package sdtrainer.io;

/**
 * Bit-exact conversions between float32 and the two 16-bit float formats, done in Java because
 * Java 17 has no {@code Float.floatToFloat16} and DJL's BFLOAT16 aborts the JVM.
 * Narrowing rounds to nearest, ties to even, as PyTorch and NumPy do.
 */
public final class HalfFloats {
    private HalfFloats() {}

    /** IEEE binary16 bits → float (exact). */
    public static float halfToFloat(short half) {
        int h = half & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        if (exp == 0) {
            // Subnormal or zero: mant units of 2^-24, exact in float32.
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** float → IEEE binary16 bits, round to nearest even; overflow gives ±inf, NaN stays a quiet NaN. */
    public static short floatToHalf(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) {
            // Keep the top payload bits and force the quiet bit so a NaN never turns into inf.
            return (short) (mant == 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13));
        }
        int halfExp = exp - 127 + 15;
        if (halfExp >= 0x1f) return (short) (sign | 0x7c00);
        if (halfExp >= 1) {
            int h = (halfExp << 10) | (mant >>> 13);
            int rest = mant & 0x1fff;
            // A carry out of the mantissa correctly bumps the exponent (and reaches inf at the top).
            if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) h++;
            return (short) (sign | h);
        }
        // Result is subnormal or zero: count units of 2^-24 in the full 24-bit significand.
        int shift = 126 - exp;
        if (exp == 0 || shift > 24) return (short) sign;
        int sig = mant | 0x800000;
        int h = sig >>> shift;
        int rest = sig & ((1 << shift) - 1);
        int halfway = 1 << (shift - 1);
        if (rest > halfway || (rest == halfway && (h & 1) != 0)) h++;
        return (short) (sign | h);
    }

    /** bfloat16 bits → float (exact: bf16 is the upper half of a float32). */
    public static float bf16ToFloat(short bf16) {
        return Float.intBitsToFloat((bf16 & 0xffff) << 16);
    }

    /** float → bfloat16 bits, round to nearest even; NaN stays a quiet NaN. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) return (short) ((bits >>> 16) | 0x0040);
        int bias = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + bias) >>> 16);
    }
}

package sdtrainer.io;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class HalfFloatsTest {

    private static short h(int bits) { return (short) bits; }

    @Test
    void halfKnownPatterns() {
        assertEquals(h(0x3C00), HalfFloats.floatToHalf(1.0f));
        assertEquals(h(0xC000), HalfFloats.floatToHalf(-2.0f));
        assertEquals(h(0x0000), HalfFloats.floatToHalf(0.0f));
        assertEquals(h(0x8000), HalfFloats.floatToHalf(-0.0f));
        assertEquals(h(0x7BFF), HalfFloats.floatToHalf(65504f));
        assertEquals(h(0x2E66), HalfFloats.floatToHalf(0.1f), "0.1 as NumPy rounds it");
        assertEquals(h(0x7C00), HalfFloats.floatToHalf(Float.POSITIVE_INFINITY));
        assertEquals(h(0xFC00), HalfFloats.floatToHalf(Float.NEGATIVE_INFINITY));
        assertEquals(h(0x0400), HalfFloats.floatToHalf(0x1p-14f), "smallest normal");
        assertEquals(h(0x0001), HalfFloats.floatToHalf(0x1p-24f), "smallest subnormal");
        assertEquals(h(0x03FF), HalfFloats.floatToHalf(0x3FFp-24f), "largest subnormal");
        assertEquals(1.0f, HalfFloats.halfToFloat(h(0x3C00)));
        assertEquals(65504f, HalfFloats.halfToFloat(h(0x7BFF)));
        assertEquals(0x1p-24f, HalfFloats.halfToFloat(h(0x0001)));
        assertEquals(-0x1p-24f, HalfFloats.halfToFloat(h(0x8001)));
        assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(HalfFloats.halfToFloat(h(0x8000))));
        assertEquals(Float.NEGATIVE_INFINITY, HalfFloats.halfToFloat(h(0xFC00)));
    }

    @Test
    void halfRoundsToNearestEven() {
        assertEquals(h(0x3C00), HalfFloats.floatToHalf(1f + 0x1p-11f), "tie goes to the even 1.0");
        assertEquals(h(0x3C02), HalfFloats.floatToHalf(1f + 3 * 0x1p-11f), "tie goes to the even 1+2^-9");
        assertEquals(h(0x3C01), HalfFloats.floatToHalf(1f + 0x1p-11f + 0x1p-20f), "just over the tie rounds up");
        assertEquals(h(0x7BFF), HalfFloats.floatToHalf(65519.996f), "below the overflow midpoint");
        assertEquals(h(0x7C00), HalfFloats.floatToHalf(65520f), "the overflow midpoint rounds to inf");
        assertEquals(h(0x7C00), HalfFloats.floatToHalf(1e10f));
        assertEquals(h(0x0000), HalfFloats.floatToHalf(0x1p-25f), "half the smallest subnormal ties to zero");
        assertEquals(h(0x0001), HalfFloats.floatToHalf(0x1.000002p-25f), "just over half rounds up");
        assertEquals(h(0x0002), HalfFloats.floatToHalf(3 * 0x1p-25f), "1.5 units ties to 2");
        assertEquals(h(0x0400), HalfFloats.floatToHalf(0x3FFp-24f + 0x1p-25f), "subnormal carries into the smallest normal");
        assertEquals(h(0x8000), HalfFloats.floatToHalf(-1e-30f));
        assertEquals(h(0x0000), HalfFloats.floatToHalf(Float.MIN_VALUE));
    }

    @Test
    void nanStaysNan() {
        assertTrue(Float.isNaN(HalfFloats.halfToFloat(HalfFloats.floatToHalf(Float.NaN))));
        // A NaN whose payload sits only in the low bits must not become inf.
        short h = HalfFloats.floatToHalf(Float.intBitsToFloat(0x7f800001));
        assertEquals(0x7C00, h & 0x7C00);
        assertNotEquals(0, h & 0x3FF);
        assertEquals(0x8000, HalfFloats.floatToHalf(Float.intBitsToFloat(0xffc00000)) & 0x8000, "sign kept");
        assertTrue(Float.isNaN(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(Float.intBitsToFloat(0x7f800001)))));
        assertTrue(Float.isNaN(HalfFloats.halfToFloat(h(0x7E00))));
    }

    @Test
    void everyHalfSurvivesARoundTrip() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = HalfFloats.halfToFloat(h(bits));
            short back = HalfFloats.floatToHalf(f);
            boolean nan = (bits & 0x7C00) == 0x7C00 && (bits & 0x3FF) != 0;
            if (nan) {
                assertTrue(Float.isNaN(f), Integer.toHexString(bits));
                assertTrue(Float.isNaN(HalfFloats.halfToFloat(back)), Integer.toHexString(bits));
            } else {
                assertEquals(bits, back & 0xffff, Integer.toHexString(bits));
            }
        }
    }

    /** Naive reference: the nearest of all finite halves by exact double distance, ties to even bits. */
    private static int nearestHalf(float f) {
        double v = Math.abs((double) f);
        int sign = f < 0 || (f == 0 && 1 / f < 0) ? 0x8000 : 0;
        if (v >= 65520.0) return sign | 0x7C00;
        int lo = 0, hi = 0x7BFF;
        while (lo < hi) { // first half with value >= v
            int mid = (lo + hi) >>> 1;
            if (HalfFloats.halfToFloat(h(mid)) < v) lo = mid + 1; else hi = mid;
        }
        int best = lo;
        if (lo > 0) {
            double up = HalfFloats.halfToFloat(h(lo)) - v, down = v - HalfFloats.halfToFloat(h(lo - 1));
            if (down < up || (down == up && ((lo - 1) & 1) == 0)) best = lo - 1;
        }
        return sign | best;
    }

    @Test
    void floatToHalfMatchesNaiveNearest() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            // Exponents from deep subnormal to past the overflow point, random mantissas and signs.
            int exp = 127 - 30 + rnd.nextInt(48);
            float f = Float.intBitsToFloat((rnd.nextBoolean() ? 0x80000000 : 0) | (exp << 23) | rnd.nextInt(1 << 23));
            assertEquals(nearestHalf(f), HalfFloats.floatToHalf(f) & 0xffff, () -> Float.toHexString(f));
        }
        for (int bits = 0; bits < 0x7BFF; bits++) { // every exact midpoint between neighbours
            float mid = (float) ((HalfFloats.halfToFloat(h(bits)) + (double) HalfFloats.halfToFloat(h(bits + 1))) / 2);
            assertEquals(nearestHalf(mid), HalfFloats.floatToHalf(mid) & 0xffff, Float.toHexString(mid));
        }
    }

    @Test
    void bf16KnownPatternsAndRounding() {
        assertEquals(h(0x3F80), HalfFloats.floatToBf16(1.0f));
        assertEquals(h(0xC020), HalfFloats.floatToBf16(-2.5f));
        assertEquals(h(0x7F80), HalfFloats.floatToBf16(Float.POSITIVE_INFINITY));
        assertEquals(h(0x8000), HalfFloats.floatToBf16(-0.0f));
        assertEquals(h(0x3F80), HalfFloats.floatToBf16(1f + 0x1p-8f), "tie goes to the even 1.0");
        assertEquals(h(0x3F82), HalfFloats.floatToBf16(1f + 3 * 0x1p-8f), "tie goes to even");
        assertEquals(h(0x3F81), HalfFloats.floatToBf16(1f + 0x1p-8f + 0x1p-20f), "over the tie rounds up");
        assertEquals(h(0x3DCD), HalfFloats.floatToBf16(0.1f), "0.1 as torch rounds it");
        assertEquals(h(0x7F80), HalfFloats.floatToBf16(Float.MAX_VALUE), "max float rounds to inf");
        assertEquals(h(0x0001), HalfFloats.floatToBf16(Float.intBitsToFloat(0x00010000)), "subnormal kept");
        assertEquals(1.0f, HalfFloats.bf16ToFloat(h(0x3F80)));
        assertEquals(Float.intBitsToFloat(0x00010000), HalfFloats.bf16ToFloat(h(0x0001)));
        for (int bits = 0; bits < 0x10000; bits++) {
            if ((bits & 0x7F80) == 0x7F80 && (bits & 0x7F) != 0) continue; // NaNs are checked above
            assertEquals(bits, HalfFloats.floatToBf16(HalfFloats.bf16ToFloat(h(bits))) & 0xffff);
        }
    }
}

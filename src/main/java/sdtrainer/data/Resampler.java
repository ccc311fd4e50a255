package sdtrainer.data;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.util.function.DoubleUnaryOperator;

/**
 * PIL's separable resampling of 8-bit RGB ({@code libImaging/Resample.c}, Pillow 9.4), reproduced bit for bit:
 * a horizontal pass over the source rows the output needs, then a vertical pass, each with the filter stretched
 * by the scale factor when shrinking, double-precision weights rounded to 22-bit fixed point, and the result of
 * each pass rounded and clipped to 8 bits.
 */
enum Resampler {
    /** {@code Image.BICUBIC}: Keys' cubic with a = -0.5. */
    BICUBIC(2.0, Resampler::bicubic),
    /** {@code Image.LANCZOS}: sinc windowed by sinc(x/3). */
    LANCZOS(3.0, Resampler::lanczos);

    private static final int PRECISION_BITS = 32 - 8 - 2;

    private final double support;
    private final DoubleUnaryOperator filter;

    Resampler(double support, DoubleUnaryOperator filter) {
        this.support = support;
        this.filter = filter;
    }

    /**
     * The window {@code [x0, x0+w) × [y0, y0+h)} of the image resampled to {@code fullW × fullH}, without
     * computing the pixels outside it (each output pixel depends only on its own taps, so this equals PIL's
     * full resize followed by a crop).
     */
    BufferedImage window(BufferedImage src, int fullW, int fullH, int x0, int y0, int w, int h) {
        Images.checkSize(fullW, fullH);
        int sw = src.getWidth();
        int sh = src.getHeight();
        int[] in = Images.packedRgb(src);
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        int[] dst = ((DataBufferInt) out.getRaster().getDataBuffer()).getData();

        Taps cols = fullW == sw ? null : taps(sw, fullW, x0, w); // PIL skips a pass whose size does not change
        Taps rows = fullH == sh ? null : taps(sh, fullH, y0, h);
        int firstRow = rows == null ? y0 : rows.start[0];
        int rowCount = rows == null ? h : rows.start[h - 1] + rows.length[h - 1] - firstRow;
        int[] mid = new int[rowCount * w];
        for (int r = 0; r < rowCount; r++) {
            int srcOff = (firstRow + r) * sw;
            if (cols == null) {
                System.arraycopy(in, srcOff + x0, mid, r * w, w);
            } else {
                cols.applyRow(in, srcOff, mid, r * w);
            }
        }
        if (rows == null) {
            System.arraycopy(mid, 0, dst, 0, w * h);
            return out;
        }
        int[] accR = new int[w];
        int[] accG = new int[w];
        int[] accB = new int[w];
        for (int y = 0; y < h; y++) {
            java.util.Arrays.fill(accR, 1 << (PRECISION_BITS - 1));
            java.util.Arrays.fill(accG, 1 << (PRECISION_BITS - 1));
            java.util.Arrays.fill(accB, 1 << (PRECISION_BITS - 1));
            int base = rows.start[y] - firstRow;
            int[] k = rows.weight[y];
            for (int t = 0; t < rows.length[y]; t++) {
                int kt = k[t];
                int off = (base + t) * w;
                for (int x = 0; x < w; x++) {
                    int p = mid[off + x];
                    accR[x] += (p >> 16 & 0xFF) * kt;
                    accG[x] += (p >> 8 & 0xFF) * kt;
                    accB[x] += (p & 0xFF) * kt;
                }
            }
            int o = y * w;
            for (int x = 0; x < w; x++) {
                dst[o + x] = clip8(accR[x]) << 16 | clip8(accG[x]) << 8 | clip8(accB[x]);
            }
        }
        return out;
    }

    private static int clip8(int acc) {
        int v = acc >> PRECISION_BITS;
        return v < 0 ? 0 : Math.min(v, 255);
    }

    /** PIL's precompute_coeffs + normalize_coeffs_8bpc for outputs {@code [first, first+count)} of {@code outSize}. */
    private Taps taps(int inSize, int outSize, int first, int count) {
        double scale = (double) inSize / outSize;
        double filterScale = Math.max(scale, 1.0);
        double stretched = support * filterScale;
        double ss = 1.0 / filterScale;
        int[] start = new int[count];
        int[] length = new int[count];
        int[][] weight = new int[count][];
        for (int i = 0; i < count; i++) {
            double center = (first + i + 0.5) * scale;
            int xmin = Math.max(0, (int) (center - stretched + 0.5));
            int xmax = Math.min(inSize, (int) (center + stretched + 0.5)) - xmin;
            double[] k = new double[Math.max(0, xmax)];
            double sum = 0.0;
            for (int x = 0; x < k.length; x++) {
                k[x] = filter.applyAsDouble((x + xmin - center + 0.5) * ss);
                sum += k[x];
            }
            int[] fixed = new int[k.length];
            for (int x = 0; x < k.length; x++) {
                double v = sum != 0.0 ? k[x] / sum : k[x];
                fixed[x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS)) : (int) (0.5 + v * (1 << PRECISION_BITS));
            }
            start[i] = xmin;
            length[i] = k.length;
            weight[i] = fixed;
        }
        return new Taps(start, length, weight);
    }

    /** Output sample i reads inputs {@code start[i] .. start[i]+length[i]-1} with fixed-point {@code weight[i]}. */
    private record Taps(int[] start, int[] length, int[][] weight) {
        void applyRow(int[] in, int inOff, int[] out, int outOff) {
            for (int i = 0; i < start.length; i++) {
                int[] k = weight[i];
                int base = inOff + start[i];
                int r = 1 << (PRECISION_BITS - 1);
                int g = r;
                int b = r;
                for (int t = 0; t < k.length; t++) {
                    int p = in[base + t];
                    int kt = k[t];
                    r += (p >> 16 & 0xFF) * kt;
                    g += (p >> 8 & 0xFF) * kt;
                    b += (p & 0xFF) * kt;
                }
                out[outOff + i] = clip8(r) << 16 | clip8(g) << 8 | clip8(b);
            }
        }
    }

    private static double bicubic(double x) {
        final double a = -0.5;
        double ax = Math.abs(x);
        if (ax < 1.0) {
            return ((a + 2.0) * ax - (a + 3.0)) * ax * ax + 1;
        }
        if (ax < 2.0) {
            return (((ax - 5) * ax + 8) * ax - 4) * a;
        }
        return 0.0;
    }

    private static double sinc(double x) {
        if (x == 0.0) {
            return 1.0;
        }
        double px = x * Math.PI;
        return Math.sin(px) / px;
    }

    private static double lanczos(double x) {
        return -3.0 <= x && x < 3.0 ? sinc(x) * sinc(x / 3) : 0.0;
    }
}

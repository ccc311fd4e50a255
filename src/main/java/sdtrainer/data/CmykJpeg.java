package sdtrainer.data;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferInt;
import java.awt.image.Raster;

/**
 * 4-channel JPEG samples to RGB. Files with an Adobe APP14 marker store inverted CMYK (Photoshop's convention,
 * which PIL always assumes), as CMYK or YCCK (transform 2, converted as libjpeg does); files without it store
 * plain CMYK (libjpeg's convention). The ink values then go through PIL's {@code cmyk2rgb}:
 * {@code R = (255 - K) - C·(255 - K)/255} with PIL's rounding, and the same for G, B; no ICC profile is applied.
 */
final class CmykJpeg {
    private static final int YCCK = 2;
    private static final int SCALEBITS = 16;
    private static final int ONE_HALF = 1 << (SCALEBITS - 1);
    /** libjpeg's jdcolor.c tables for YCbCr → RGB, indexed by Cb or Cr. */
    private static final int[] CR_R = new int[256];
    private static final int[] CB_B = new int[256];
    private static final int[] CR_G = new int[256];
    private static final int[] CB_G = new int[256];

    static {
        for (int i = 0; i < 256; i++) {
            int x = i - 128;
            CR_R[i] = (fix(1.40200) * x + ONE_HALF) >> SCALEBITS;
            CB_B[i] = (fix(1.77200) * x + ONE_HALF) >> SCALEBITS;
            CR_G[i] = -fix(0.71414) * x;
            CB_G[i] = -fix(0.34414) * x + ONE_HALF;
        }
    }

    private CmykJpeg() {}

    private static int fix(double v) {
        return (int) (v * (1L << SCALEBITS) + 0.5);
    }

    /**
     * @param raw the decoder's samples without colour conversion: CMYK, or YCC + K for YCCK
     * @param adobeTransform the APP14 transform, -1 when the file has no Adobe marker
     */
    static BufferedImage toRgb(Raster raw, int adobeTransform) {
        int w = raw.getWidth();
        int h = raw.getHeight();
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        int[] dst = ((DataBufferInt) out.getRaster().getDataBuffer()).getData();
        int[] px = new int[w * 4];
        boolean inverted = adobeTransform >= 0;
        for (int y = 0; y < h; y++) {
            raw.getPixels(raw.getMinX(), raw.getMinY() + y, w, 1, px);
            for (int x = 0, i = 0; x < w; x++, i += 4) {
                int c = px[i];
                int m = px[i + 1];
                int yl = px[i + 2];
                if (adobeTransform == YCCK) {
                    // libjpeg's YCCK → CMYK gives 255 - R of the YCC triple; inverted once more that is R itself.
                    int luma = px[i];
                    c = clamp(luma + CR_R[px[i + 2]]);
                    m = clamp(luma + ((CB_G[px[i + 1]] + CR_G[px[i + 2]]) >> SCALEBITS));
                    yl = clamp(luma + CB_B[px[i + 1]]);
                } else if (inverted) {
                    c = 255 - c;
                    m = 255 - m;
                    yl = 255 - yl;
                }
                int k = inverted ? 255 - px[i + 3] : px[i + 3];
                int nk = 255 - k;
                dst[y * w + x] = ink(c, nk) << 16 | ink(m, nk) << 8 | ink(yl, nk);
            }
        }
        return out;
    }

    /** PIL: {@code CLIP8(nk - MULDIV255(v, nk))}. */
    private static int ink(int v, int nk) {
        int t = v * nk + 128;
        return clamp(nk - (((t >> 8) + t) >> 8));
    }

    private static int clamp(int v) {
        return v < 0 ? 0 : Math.min(v, 255);
    }
}

package sdtrainer.data;

/**
 * What a JPEG's markers say before decoding: the frame's component count, the Adobe APP14 colour transform
 * (0 = CMYK, 1 = YCbCr, 2 = YCCK; -1 without the marker) and whether the end-of-image marker follows the scan
 * data (libjpeg only warns about a truncated file and fills the rest with grey).
 */
record JpegHeader(int components, int adobeTransform, boolean complete) {
    private static final int SOI = 0xD8;
    private static final int EOI = 0xD9;
    private static final int SOS = 0xDA;
    private static final int APP14 = 0xEE;

    /** Parses the markers of a file that starts with SOI; a header that ends early gives {@code complete == false}. */
    static JpegHeader parse(byte[] b) {
        int components = 0;
        int adobe = -1;
        int i = 2;
        while (i + 4 <= b.length && (b[i] & 0xFF) == 0xFF) {
            int marker = b[i + 1] & 0xFF;
            if (marker == 0xFF) {
                i++; // fill byte
                continue;
            }
            if (marker == SOI || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) {
                i += 2; // markers without a length
                continue;
            }
            int length = (b[i + 2] & 0xFF) << 8 | (b[i + 3] & 0xFF);
            int payload = i + 4;
            if (marker == APP14 && length >= 14 && payload + 12 <= b.length && isAdobe(b, payload)) {
                adobe = b[payload + 11] & 0xFF;
            }
            boolean frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
            if (frame && payload + 6 <= b.length) {
                components = b[payload + 5] & 0xFF;
            }
            if (marker == SOS) {
                return new JpegHeader(components, adobe, hasEoiAfter(b, payload));
            }
            i += 2 + length;
        }
        return new JpegHeader(components, adobe, false);
    }

    private static boolean isAdobe(byte[] b, int at) {
        return b[at] == 'A' && b[at + 1] == 'd' && b[at + 2] == 'o' && b[at + 3] == 'b' && b[at + 4] == 'e';
    }

    /** In entropy-coded data 0xFF is always followed by 0x00 or a restart marker, so FF D9 can only be EOI. */
    private static boolean hasEoiAfter(byte[] b, int from) {
        for (int i = b.length - 2; i >= from; i--) {
            if ((b[i] & 0xFF) == 0xFF && (b[i + 1] & 0xFF) == EOI) {
                return true;
            }
        }
        return false;
    }
}

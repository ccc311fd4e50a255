package sdtrainer.log;

import java.util.zip.CRC32C;

/** CRC-32C (Castagnoli) and the masking TFRecord files store it under. */
public final class Crc32c {

    private static final int MASK_DELTA = 0xa282ead8;

    private Crc32c() {}

    public static int compute(byte[] data) {
        return compute(data, 0, data.length);
    }

    public static int compute(byte[] data, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(data, offset, length);
        return (int) crc.getValue();
    }

    /**
     * TFRecord's mask: rotate right by 15 bits and add a constant, so that a CRC stored next to
     * the data it covers does not make a CRC of the whole trivially predictable.
     */
    public static int mask(int crc) {
        return ((crc >>> 15) | (crc << 17)) + MASK_DELTA;
    }

    /** The masked CRC-32C of a byte range, as a TFRecord header or footer holds it. */
    public static int masked(byte[] data, int offset, int length) {
        return mask(compute(data, offset, length));
    }
}

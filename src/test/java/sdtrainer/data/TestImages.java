package sdtrainer.data;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.DeflaterOutputStream;
import javax.imageio.ImageIO;

/** Builds test image files byte by byte, so the test controls exactly which PNG/JPEG variant is decoded. */
public final class TestImages {
    private TestImages() {}

    public static final int GREY = 0;
    public static final int RGB = 2;
    public static final int PALETTE = 3;
    public static final int GREY_ALPHA = 4;
    public static final int RGBA = 6;

    /**
     * Encodes a PNG from raw samples (big-endian for 16-bit) laid out row by row without filter bytes.
     * {@code palette} (RGB triples) and {@code transparency} (tRNS payload) may be null.
     */
    public static byte[] png(int width, int height, int colorType, int bitDepth, byte[] samples,
            byte[] palette, byte[] transparency) throws IOException {
        int channels = switch (colorType) {
            case GREY, PALETTE -> 1;
            case GREY_ALPHA -> 2;
            case RGB -> 3;
            case RGBA -> 4;
            default -> throw new IllegalArgumentException("colour type " + colorType);
        };
        int rowBytes = width * channels * bitDepth / 8;
        if (samples.length != rowBytes * height) {
            throw new IllegalArgumentException("expected " + rowBytes * height + " sample bytes, got " + samples.length);
        }
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        try (DeflaterOutputStream z = new DeflaterOutputStream(raw)) {
            for (int y = 0; y < height; y++) {
                z.write(0); // filter type None
                z.write(samples, y * rowBytes, rowBytes);
            }
        }
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(file);
        out.write(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'});
        ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
        DataOutputStream h = new DataOutputStream(ihdr);
        h.writeInt(width);
        h.writeInt(height);
        h.write(new byte[] {(byte) bitDepth, (byte) colorType, 0, 0, 0});
        chunk(out, "IHDR", ihdr.toByteArray());
        if (palette != null) {
            chunk(out, "PLTE", palette);
        }
        if (transparency != null) {
            chunk(out, "tRNS", transparency);
        }
        chunk(out, "IDAT", raw.toByteArray());
        chunk(out, "IEND", new byte[0]);
        return file.toByteArray();
    }

    private static void chunk(DataOutputStream out, String type, byte[] data) throws IOException {
        PngWriter.chunk(out, type, data);
    }

    /** A JPEG of {@code img} carrying an EXIF APP1 segment with the given orientation tag. */
    public static byte[] jpegWithOrientation(BufferedImage img, int orientation) throws IOException {
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        if (!ImageIO.write(img, "jpg", plain)) {
            throw new IOException("no JPEG writer");
        }
        byte[] jpeg = plain.toByteArray();
        ByteArrayOutputStream tiff = new ByteArrayOutputStream();
        DataOutputStream t = new DataOutputStream(tiff);
        t.write(new byte[] {'M', 'M', 0, 42});
        t.writeInt(8); // IFD0 right after the header
        t.writeShort(1); // one entry
        t.writeShort(0x0112); // Orientation
        t.writeShort(3); // SHORT
        t.writeInt(1);
        t.writeShort(orientation);
        t.writeShort(0); // value field padding
        t.writeInt(0); // no next IFD
        byte[] payload = tiff.toByteArray();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(jpeg, 0, 2); // SOI
        out.write(0xFF);
        out.write(0xE1);
        int length = 2 + 6 + payload.length;
        out.write(length >> 8);
        out.write(length & 0xFF);
        out.write(new byte[] {'E', 'x', 'i', 'f', 0, 0});
        out.write(payload);
        out.write(jpeg, 2, jpeg.length - 2);
        return out.toByteArray();
    }

    /** An opaque RGB image filled with one colour. */
    public static BufferedImage solid(int width, int height, int rgb) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                img.setRGB(x, y, rgb);
            }
        }
        return img;
    }

    public static Path write(Path file, byte[] bytes) throws IOException {
        Files.write(file, bytes);
        return file;
    }
}

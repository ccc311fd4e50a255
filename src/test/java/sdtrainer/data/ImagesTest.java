package sdtrainer.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static sdtrainer.data.TestImages.png;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ImagesTest {
    private static final int RED = 0xFF0000;
    private static final int GREEN = 0x00FF00;
    private static final int BLUE = 0x0000FF;
    private static final int WHITE = 0xFFFFFF;

    @TempDir
    Path dir;

    private BufferedImage decode(String name, byte[] bytes) throws IOException {
        BufferedImage img = Images.read(TestImages.write(dir.resolve(name), bytes));
        assertEquals(BufferedImage.TYPE_INT_RGB, img.getType());
        return img;
    }

    private static int rgb(BufferedImage img, int x, int y) {
        return img.getRGB(x, y) & 0xFFFFFF;
    }

    @Test
    void greyPngKeepsItsSampleValues() throws IOException {
        BufferedImage img = decode("grey.png", png(3, 1, TestImages.GREY, 8, new byte[] {0, (byte) 128, (byte) 255}, null, null));
        assertEquals(0x000000, rgb(img, 0, 0));
        assertEquals(0x808080, rgb(img, 1, 0)); // Java's linear grey conversion would give ~0xBCBCBC
        assertEquals(0xFFFFFF, rgb(img, 2, 0));
    }

    @Test
    void greyAlphaPngIsCompositedOnWhiteWithoutBrightening() throws IOException {
        byte[] samples = {100, (byte) 255, 0, 0, 0, (byte) 128};
        BufferedImage img = decode("ga.png", png(3, 1, TestImages.GREY_ALPHA, 8, samples, null, null));
        assertEquals(0x646464, rgb(img, 0, 0));
        assertEquals(0xFFFFFF, rgb(img, 1, 0));
        assertEquals(0x7F7F7F, rgb(img, 2, 0)); // black at alpha 128/255 over white
    }

    @Test
    void sixteenBitGreyIsScaledToEightBits() throws IOException {
        byte[] samples = {(byte) 0x80, (byte) 0x80, (byte) 0xFF, (byte) 0xFF, 0, 0};
        BufferedImage img = decode("g16.png", png(3, 1, TestImages.GREY, 16, samples, null, null));
        assertEquals(0x808080, rgb(img, 0, 0));
        assertEquals(0xFFFFFF, rgb(img, 1, 0));
        assertEquals(0x000000, rgb(img, 2, 0));
    }

    @Test
    void sixteenBitRgbAndRgbaAreConverted() throws IOException {
        byte[] rgb = {(byte) 0xFF, (byte) 0xFF, (byte) 0x80, (byte) 0x80, 0, 0};
        assertEquals(0xFF8000, rgb(decode("c16.png", png(1, 1, TestImages.RGB, 16, rgb, null, null)), 0, 0));
        byte[] rgba = {0, 0, 0, 0, 0, 0, 0, 0}; // transparent black
        assertEquals(WHITE, rgb(decode("a16.png", png(1, 1, TestImages.RGBA, 16, rgba, null, null)), 0, 0));
    }

    @Test
    void rgbaIsCompositedOnWhite() throws IOException {
        byte[] samples = {
            (byte) 255, 0, 0, 0, // transparent red
            (byte) 255, 0, 0, (byte) 255, // opaque red
            0, 0, (byte) 255, (byte) 128 // half blue
        };
        BufferedImage img = decode("rgba.png", png(3, 1, TestImages.RGBA, 8, samples, null, null));
        assertEquals(WHITE, rgb(img, 0, 0));
        assertEquals(RED, rgb(img, 1, 0));
        assertEquals(0x7F7FFF, rgb(img, 2, 0));
    }

    @Test
    void palettePngWithTransparentEntry() throws IOException {
        byte[] palette = {10, 20, 30, (byte) 200, 0, 0};
        byte[] trns = {(byte) 255, 0};
        BufferedImage img = decode("pal.png", png(2, 1, TestImages.PALETTE, 8, new byte[] {0, 1}, palette, trns));
        assertEquals(0x0A141E, rgb(img, 0, 0));
        assertEquals(WHITE, rgb(img, 1, 0));
    }

    /** Source quadrants red | green over blue | white; expected corners TL, TR, BL, BR after orientation. */
    @ParameterizedTest
    @CsvSource({
        "1, FF0000, 00FF00, 0000FF, FFFFFF",
        "2, 00FF00, FF0000, FFFFFF, 0000FF",
        "3, FFFFFF, 0000FF, 00FF00, FF0000",
        "4, 0000FF, FFFFFF, FF0000, 00FF00",
        "5, FF0000, 0000FF, 00FF00, FFFFFF",
        "6, 0000FF, FF0000, FFFFFF, 00FF00",
        "7, FFFFFF, 00FF00, 0000FF, FF0000",
        "8, 00FF00, FFFFFF, FF0000, 0000FF"
    })
    void exifOrientationIsApplied(int orientation, String tl, String tr, String bl, String br) throws IOException {
        int w = 64;
        int h = 32;
        BufferedImage src = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                boolean right = x >= w / 2;
                boolean bottom = y >= h / 2;
                src.setRGB(x, y, bottom ? (right ? WHITE : BLUE) : (right ? GREEN : RED));
            }
        }
        BufferedImage img = decode("o" + orientation + ".jpg", TestImages.jpegWithOrientation(src, orientation));
        boolean swapped = orientation >= 5;
        assertEquals(swapped ? h : w, img.getWidth());
        assertEquals(swapped ? w : h, img.getHeight());
        int m = 4; // away from the edges JPEG blurs
        int[] corners = {
            rgb(img, m, m), rgb(img, img.getWidth() - 1 - m, m),
            rgb(img, m, img.getHeight() - 1 - m), rgb(img, img.getWidth() - 1 - m, img.getHeight() - 1 - m)
        };
        String[] expected = {tl, tr, bl, br};
        for (int i = 0; i < 4; i++) {
            assertColourNear(Integer.parseInt(expected[i], 16), corners[i], 24, "corner " + i);
        }
    }

    private static void assertColourNear(int expected, int actual, int tolerance, String what) {
        for (int shift = 0; shift <= 16; shift += 8) {
            int e = expected >> shift & 0xFF;
            int a = actual >> shift & 0xFF;
            assertTrue(Math.abs(e - a) <= tolerance,
                    what + ": expected " + Integer.toHexString(expected) + ", got " + Integer.toHexString(actual));
        }
    }

    @Test
    void truncatedOrCorruptFilesRaiseErrorsNamingTheFile() throws IOException {
        BufferedImage noise = new BufferedImage(128, 96, BufferedImage.TYPE_INT_RGB);
        java.util.Random random = new java.util.Random(7);
        for (int y = 0; y < 96; y++) {
            for (int x = 0; x < 128; x++) {
                noise.setRGB(x, y, random.nextInt(1 << 24));
            }
        }
        for (String format : List.of("jpg", "png", "bmp")) {
            java.io.ByteArrayOutputStream whole = new java.io.ByteArrayOutputStream();
            assertTrue(ImageIO.write(noise, format, whole));
            byte[] bytes = whole.toByteArray();
            Path cut = TestImages.write(dir.resolve("cut." + format), Arrays.copyOf(bytes, bytes.length * 2 / 3));
            IOException e = assertThrows(IOException.class, () -> Images.read(cut), format);
            assertTrue(e.getMessage().contains("cut." + format), e.getMessage());
        }
        Path text = TestImages.write(dir.resolve("text.png"), "not an image".getBytes());
        IOException e = assertThrows(IOException.class, () -> Images.read(text));
        assertTrue(e.getMessage().startsWith(text.toString()) && e.getMessage().contains("not an image"), e.getMessage());
        Path empty = TestImages.write(dir.resolve("empty.jpg"), new byte[0]);
        assertThrows(IOException.class, () -> Images.read(empty));
    }

    @Test
    void webpDecoderIsAvailable() {
        assertTrue(ImageIO.getImageReadersBySuffix("webp").hasNext());
    }

    @Test
    void downscalingAveragesFinePatternsInsteadOfAliasing() {
        BufferedImage checker = new BufferedImage(256, 256, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 256; y++) {
            for (int x = 0; x < 256; x++) {
                checker.setRGB(x, y, ((x + y) & 1) == 0 ? WHITE : 0);
            }
        }
        BufferedImage small = Images.resize(checker, 64, 48);
        assertEquals(64, small.getWidth());
        assertEquals(48, small.getHeight());
        for (int y = 0; y < 48; y++) {
            for (int x = 0; x < 64; x++) {
                int v = small.getRGB(x, y) & 0xFF;
                assertTrue(Math.abs(v - 128) <= 4, "pixel " + x + "," + y + " = " + v);
            }
        }
    }

    @Test
    void resizingKeepsFlatColoursAndMonotonicGradients() {
        BufferedImage flat = Images.resize(TestImages.solid(10, 7, 0x336699), 33, 5);
        for (int y = 0; y < 5; y++) {
            for (int x = 0; x < 33; x++) {
                assertEquals(0x336699, rgb(flat, x, y));
            }
        }
        BufferedImage ramp = new BufferedImage(16, 2, BufferedImage.TYPE_INT_RGB);
        for (int x = 0; x < 16; x++) {
            int v = x * 17;
            ramp.setRGB(x, 0, v << 16 | v << 8 | v);
            ramp.setRGB(x, 1, v << 16 | v << 8 | v);
        }
        BufferedImage up = Images.resize(ramp, 64, 2);
        for (int x = 1; x < 64; x++) {
            assertTrue((up.getRGB(x, 0) & 0xFF) >= (up.getRGB(x - 1, 0) & 0xFF), "not monotonic at " + x);
        }
    }

    @Test
    void resizeAtScaleOneIsTheIdentity() {
        BufferedImage img = new BufferedImage(9, 5, BufferedImage.TYPE_INT_RGB);
        for (int i = 0; i < 45; i++) {
            img.setRGB(i % 9, i / 9, i * 0x050301);
        }
        BufferedImage same = Images.resize(img, 9, 5);
        assertArrayEquals(img.getRGB(0, 0, 9, 5, null, 0, 9), same.getRGB(0, 0, 9, 5, null, 0, 9));
    }

    @Test
    void coverAndCenterCropTakesTheMiddleOfALandscapeImage() {
        BufferedImage src = columns(300, 100);
        BufferedImage crop = Images.coverAndCenterCrop(src, 100, 100);
        assertArrayEquals(src.getRGB(100, 0, 100, 100, null, 0, 100), crop.getRGB(0, 0, 100, 100, null, 0, 100));
    }

    @Test
    void coverAndCenterCropTakesTheMiddleOfAPortraitImage() {
        BufferedImage src = rows(80, 200);
        BufferedImage crop = Images.coverAndCenterCrop(src, 80, 120);
        assertArrayEquals(src.getRGB(0, 40, 80, 120, null, 0, 80), crop.getRGB(0, 0, 80, 120, null, 0, 80));
    }

    @Test
    void coverAndCenterCropScalesToCoverBeforeCropping() {
        // 400x200: red | blue (200 px) | red; covering 100x100 scales to 200x100 and keeps the blue middle.
        BufferedImage src = new BufferedImage(400, 200, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 200; y++) {
            for (int x = 0; x < 400; x++) {
                src.setRGB(x, y, x >= 100 && x < 300 ? BLUE : RED);
            }
        }
        BufferedImage crop = Images.coverAndCenterCrop(src, 100, 100);
        assertEquals(100, crop.getWidth());
        assertEquals(100, crop.getHeight());
        for (int y = 0; y < 100; y++) {
            for (int x = 4; x < 96; x++) {
                assertColourNear(BLUE, rgb(crop, x, y), 2, "pixel " + x + "," + y);
            }
        }
        // Upscaling a small image still covers the target.
        BufferedImage up = Images.coverAndCenterCrop(TestImages.solid(10, 30, GREEN), 64, 128);
        assertEquals(64, up.getWidth());
        assertEquals(128, up.getHeight());
        assertEquals(GREEN, rgb(up, 32, 64));
    }

    private static BufferedImage columns(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, x << 8 | (y & 0xFF));
            }
        }
        return img;
    }

    private static BufferedImage rows(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, y << 8 | x);
            }
        }
        return img;
    }

    @Test
    void toChwIsPlanarRgbInMinusOneToOne() {
        BufferedImage img = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, 0xFF0080);
        img.setRGB(1, 0, 0x00FF00);
        float[] chw = Images.toCHW(img);
        assertArrayEquals(new float[] {1f, -1f, -1f, 1f, 128 / 127.5f - 1f, -1f}, chw, 1e-6f);
    }

    @Test
    void writePngRoundTripsExactlyAndLeavesNoTemporaryFile() throws IOException {
        BufferedImage img = columns(37, 11);
        Path target = dir.resolve("out.png");
        Images.writePng(img, target);
        Images.writePng(img, target); // replacing an existing file
        BufferedImage back = Images.read(target);
        assertArrayEquals(img.getRGB(0, 0, 37, 11, null, 0, 37), back.getRGB(0, 0, 37, 11, null, 0, 37));
        BufferedImage byImageIo = ImageIO.read(target.toFile()); // another decoder checks the encoder's filters and CRCs
        assertArrayEquals(img.getRGB(0, 0, 37, 11, null, 0, 37), byImageIo.getRGB(0, 0, 37, 11, null, 0, 37));
        assertEquals(new Images.Size(37, 11), Images.readSize(target));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(target), files.toList());
        }
    }
}

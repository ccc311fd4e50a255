package sdtrainer.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Decodes and resizes against Pillow 9.4.0, bit for bit. The inputs and PIL's outputs are in
 * {@code src/test/resources/pil-reference/}, made by its {@code make_reference.py} (Debian bookworm python3-pil).
 */
class ImagesPilReferenceTest {
    private static Path resource(String name) {
        try {
            return Path.of(ImagesPilReferenceTest.class.getResource("/pil-reference/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** PIL's output, read by ImageIO (8-bit RGB PNGs, which it reads exactly), independent of {@link Images}. */
    private static int[] expected(String name) throws IOException {
        BufferedImage img = ImageIO.read(resource(name).toFile());
        return pixels(img);
    }

    private static int[] pixels(BufferedImage img) {
        int[] p = img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
        for (int i = 0; i < p.length; i++) {
            p[i] &= 0xFFFFFF;
        }
        return p;
    }

    @ParameterizedTest
    @CsvSource({"32, 32", "24, 40", "64, 32"})
    void coverAndCenterCropIsPilsBicubicResizeAndCrop(int width, int height) throws IOException {
        BufferedImage out = Images.coverAndCenterCrop(Images.read(resource("source.png")), width, height);
        assertEquals(width, out.getWidth());
        assertEquals(height, out.getHeight());
        assertArrayEquals(expected("cover_bicubic_" + width + "x" + height + ".png"), pixels(out));
    }

    @ParameterizedTest
    @CsvSource({"40, 25", "211, 133"})
    void resizeIsPilsLanczos(int width, int height) throws IOException {
        BufferedImage out = Images.resize(Images.read(resource("source.png")), width, height);
        assertArrayEquals(expected("lanczos_" + width + "x" + height + ".png"), pixels(out));
    }

    @Test
    void lossyWebpDecodesExactlyAsLibwebp() throws IOException {
        BufferedImage img = Images.read(resource("lossy_portrait.webp"));
        assertEquals(48, img.getWidth());
        assertEquals(96, img.getHeight());
        assertArrayEquals(expected("lossy_portrait.webp.png"), pixels(img));
    }

    @Test
    void twelveMonkeysWebpDecoderDriftsWhichIsWhyItIsNotUsed() throws IOException {
        int[] drifting = pixels(ImageIO.read(resource("lossy_portrait.webp").toFile()));
        int[] exact = expected("lossy_portrait.webp.png");
        int differing = 0;
        for (int i = 0; i < exact.length; i++) {
            differing += drifting[i] != exact[i] ? 1 : 0;
        }
        assertTrue(differing > 0, "ImageIO's WebP decode now matches libwebp; the OpenCV path could be dropped");
    }

    /** PIL-written (Adobe APP14, inverted) and the same samples without the marker (plain ink). */
    @ParameterizedTest
    @ValueSource(strings = {"cmyk_adobe.jpg", "cmyk_plain.jpg"})
    void cmykJpegsAreConvertedAsPilConvertsCmykToRgb(String name) throws IOException {
        BufferedImage img = Images.read(resource(name));
        assertEquals(32, img.getWidth());
        assertEquals(16, img.getHeight());
        assertArrayEquals(expected(name + ".png"), pixels(img));
    }
}

package sdtrainer.preprocess;

import sdtrainer.Fixtures;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.data.Images;
import sdtrainer.data.TestImages;
import sdtrainer.io.Npz;
import sdtrainer.io.TensorData;

class FaceMaskTest {
    static final Path FIXTURE = Fixtures.path("animeface");
    static final Path CASCADE = FIXTURE.resolve("lbpcascade_animeface.xml");

    @TempDir
    Path dir;

    @Test
    void findsTheReferenceBoxes() throws IOException {
        assumeTrue(Files.isDirectory(FIXTURE), "animeface fixture absent");
        JsonNode cases = new ObjectMapper().readTree(FIXTURE.resolve("reference/cases.json").toFile());
        FaceMask.Detector detector = new FaceMask.Detector(CASCADE, FaceMask.Detection.CASCADE_README); // the fixture's procedure
        for (JsonNode c : cases.get("cases")) {
            List<FaceMask.Box> expected = new ArrayList<>();
            for (JsonNode b : c.get("boxes_xywh_sorted")) {
                expected.add(new FaceMask.Box(b.get(0).asInt(), b.get(1).asInt(), b.get(2).asInt(), b.get(3).asInt()));
            }
            String image = c.get("image").asText();
            assertEquals(expected, detector.detect(Images.read(FIXTURE.resolve("reference").resolve(image))), image);
        }
    }

    /** {@code facemask-reference/boxes.json}: what OpenCV 4.6 in Python finds with each setting (see its script). */
    private static JsonNode pythonBoxes() throws IOException {
        return new ObjectMapper().readTree(FaceMaskTest.class.getResource("/facemask-reference/boxes.json"));
    }

    private static List<FaceMask.Box> boxes(JsonNode list) {
        List<FaceMask.Box> boxes = new ArrayList<>();
        for (JsonNode b : list) {
            boxes.add(new FaceMask.Box(b.get(0).asInt(), b.get(1).asInt(), b.get(2).asInt(), b.get(3).asInt()));
        }
        return boxes;
    }

    /** A 258-px and a 74-px face on one canvas, built as original_boxes.py builds it. */
    private static BufferedImage twoFaceSizes() throws IOException {
        BufferedImage face = Images.read(FIXTURE.resolve("reference/face_single_256.png"));
        BufferedImage canvas = TestImages.solid(720, 440, face.getRGB(0, 0) & 0xFFFFFF);
        Graphics2D g = canvas.createGraphics();
        g.drawImage(Images.resize(face, 410, 410), 10, 15, null);
        g.drawImage(Images.resize(face, 120, 120), 560, 200, null);
        g.dispose();
        return canvas;
    }

    @Test
    void defaultsAreTheOriginalsDetectMultiScaleDefaults() throws IOException {
        assumeTrue(Files.isDirectory(FIXTURE), "animeface fixture absent");
        assertEquals(new FaceMask.Detection(false, 3, 0), FaceMask.Detection.ORIGINAL);
        JsonNode expected = pythonBoxes();
        FaceMask.Detector original = new FaceMask.Detector(CASCADE, FaceMask.Detection.ORIGINAL);
        FaceMask.Detector readme = new FaceMask.Detector(CASCADE, FaceMask.Detection.CASCADE_README);
        for (String name : List.of("face_single_256.png", "faces_three_640x320.png", "no_face_gradient_256.png")) {
            BufferedImage img = Images.read(FIXTURE.resolve("reference").resolve(name));
            assertEquals(boxes(expected.get(name).get("original")), original.detect(img), name);
        }
        BufferedImage composite = twoFaceSizes();
        List<FaceMask.Box> found = original.detect(composite);
        assertEquals(boxes(expected.get("composite").get("original")), found);
        assertEquals(2, found.size());
        assertTrue(found.get(0).width() > 3 * found.get(1).width(), found.toString()); // very different sizes
        assertEquals(boxes(expected.get("composite").get("cascade_readme")), readme.detect(composite));
    }

    @Test
    void expandGrowsABoxAboutItsCentreAndClipsIt() {
        assertEquals(new FaceMask.Box(15, 15, 30, 30), FaceMask.expand(new FaceMask.Box(20, 20, 20, 20), 1.5, 100, 100));
        assertEquals(new FaceMask.Box(20, 20, 20, 20), FaceMask.expand(new FaceMask.Box(20, 20, 20, 20), 1.0, 100, 100));
        assertEquals(new FaceMask.Box(0, 0, 30, 15), FaceMask.expand(new FaceMask.Box(0, 0, 20, 10), 2.0, 30, 25));
        assertThrows(IllegalArgumentException.class, () -> new FaceMask.Options(CASCADE, 8, FaceMask.Detection.ORIGINAL, 0));
    }

    @Test
    void boxesBecomeOnesAtLatentResolution() {
        // 64x48 image, factor 8 -> 8x6 mask. Box x 10..35, y 3..20 -> columns 1..4, rows 0..2 (exclusive ends).
        float[] mask = FaceMask.mask(64, 48, List.of(new FaceMask.Box(10, 3, 25, 17)), 8);
        assertEquals(48, mask.length);
        for (int y = 0; y < 6; y++) {
            for (int x = 0; x < 8; x++) {
                boolean inside = y >= 0 && y < 2 && x >= 1 && x < 4;
                assertEquals(inside ? 1.0f : 0.05f, mask[y * 8 + x], "(" + x + ", " + y + ")");
            }
        }
        // A box running off the image is clipped; factor 2 keeps finer geometry.
        float[] clipped = FaceMask.mask(8, 8, List.of(new FaceMask.Box(5, 5, 10, 10)), 2);
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 4; x++) {
                assertEquals(x >= 2 && y >= 2 ? 1.0f : 0.05f, clipped[y * 4 + x]);
            }
        }
        float[] none = FaceMask.mask(16, 16, List.of(), 8);
        assertArrayEquals(new float[] {0.05f, 0.05f, 0.05f, 0.05f}, none);
    }

    @Test
    void runWritesOneNpzPerImage() throws Exception {
        assumeTrue(Files.isDirectory(FIXTURE), "animeface fixture absent");
        Path data = Files.createDirectory(dir.resolve("data"));
        Files.copy(FIXTURE.resolve("reference/face_single_256.png"), data.resolve("face.png"));
        Files.copy(FIXTURE.resolve("reference/no_face_gradient_256.png"), data.resolve("plain.png"));
        Files.write(data.resolve("cut.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G'});
        Path out = dir.resolve("masks");
        StringWriter log = new StringWriter();
        Progress.Summary summary = FaceMask.run(data, out,
                new FaceMask.Options(CASCADE, 8, FaceMask.Detection.CASCADE_README, 1.0), 2,
                new Progress("create-mask", new PrintWriter(log, true), false));
        assertEquals(2, summary.processed());
        assertEquals(1, summary.failed());
        assertTrue(log.toString().contains("cut.png"), log.toString());

        Map<String, TensorData> face = Npz.read(out.resolve("face.npz"));
        TensorData mask = face.get("arr_0");
        assertArrayEquals(new long[] {32, 32}, mask.shape());
        // Box (51, 64, 161, 161): columns 51/8=6 .. 212/8=26, rows 64/8=8 .. 225/8=28.
        float[] values = mask.toFloats();
        float[] expected = FaceMask.mask(256, 256, List.of(new FaceMask.Box(51, 64, 161, 161)), 8);
        assertArrayEquals(expected, values);
        assertEquals(1.0f, values[8 * 32 + 6]);
        assertEquals(0.05f, values[8 * 32 + 5]);
        assertEquals(1.0f, values[27 * 32 + 25]);
        assertEquals(0.05f, values[28 * 32 + 25]);

        float[] plain = Npz.read(out.resolve("plain.npz")).get("arr_0").toFloats();
        for (float v : plain) {
            assertEquals(0.05f, v);
        }

        FaceMask.run(data, out, new FaceMask.Options(CASCADE, 8, FaceMask.Detection.CASCADE_README, 1.5), 2,
                new Progress("create-mask", new PrintWriter(new StringWriter(), true), false));
        float[] grown = Npz.read(out.resolve("face.npz")).get("arr_0").toFloats();
        FaceMask.Box big = FaceMask.expand(new FaceMask.Box(51, 64, 161, 161), 1.5, 256, 256);
        assertArrayEquals(FaceMask.mask(256, 256, List.of(big), 8), grown);
        assertTrue(big.width() > 161 && big.y() < 64, big.toString());
    }

    @Test
    void aMissingOrInvalidCascadeIsReported() throws Exception {
        IOException missing = assertThrows(IOException.class, () -> new FaceMask.Detector(dir.resolve("none.xml"), FaceMask.Detection.ORIGINAL));
        assertTrue(missing.getMessage().contains("none.xml") && missing.getMessage().contains("lbpcascade_animeface"));
        Path bad = Files.writeString(dir.resolve("bad.xml"), "<opencv_storage></opencv_storage>");
        IOException invalid = assertThrows(IOException.class, () -> new FaceMask.Detector(bad, FaceMask.Detection.ORIGINAL));
        assertTrue(invalid.getMessage().contains("bad.xml"), invalid.getMessage());
    }
}

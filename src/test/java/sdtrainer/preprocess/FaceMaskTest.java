package sdtrainer.preprocess;

import sdtrainer.Fixtures;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
        FaceMask.Detector detector = new FaceMask.Detector(CASCADE, 5, 24);
        for (JsonNode c : cases.get("cases")) {
            List<FaceMask.Box> expected = new ArrayList<>();
            for (JsonNode b : c.get("boxes_xywh_sorted")) {
                expected.add(new FaceMask.Box(b.get(0).asInt(), b.get(1).asInt(), b.get(2).asInt(), b.get(3).asInt()));
            }
            String image = c.get("image").asText();
            assertEquals(expected, detector.detect(Images.read(FIXTURE.resolve("reference").resolve(image))), image);
        }
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
        Progress.Summary summary = FaceMask.run(data, out, new FaceMask.Options(CASCADE, 8, 5, 24), 2,
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
    }

    @Test
    void aMissingOrInvalidCascadeIsReported() throws Exception {
        IOException missing = assertThrows(IOException.class, () -> new FaceMask.Detector(dir.resolve("none.xml"), 5, 24));
        assertTrue(missing.getMessage().contains("none.xml") && missing.getMessage().contains("lbpcascade_animeface"));
        Path bad = Files.writeString(dir.resolve("bad.xml"), "<opencv_storage></opencv_storage>");
        IOException invalid = assertThrows(IOException.class, () -> new FaceMask.Detector(bad, 5, 24));
        assertTrue(invalid.getMessage().contains("bad.xml"), invalid.getMessage());
    }
}

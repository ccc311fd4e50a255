package sdtrainer.preprocess;

import sdtrainer.Fixtures;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
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
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.data.Images;
import sdtrainer.data.TestImages;

/** The WD14 tagger path on the tiny ONNX stand-in, against the Python reference (kohya's preprocessing). */
class TaggerTest {
    static final Path FIXTURE = Fixtures.path("tagger-tiny");
    static final Path REFERENCE = FIXTURE.resolve("reference");
    /** Measured max |ours - reference| is 1.2e-7 (solid colours, an exact 2x area shrink, a 4x Lanczos enlargement). */
    static final double PROBABILITY_TOLERANCE = 1e-6;

    static Tagger tagger;
    static JsonNode cases;

    @TempDir
    Path dir;

    @BeforeAll
    static void load() throws IOException {
        assumeTrue(Files.isDirectory(FIXTURE), "tagger-tiny fixture absent");
        tagger = Tagger.load(FIXTURE, null);
        cases = new ObjectMapper().readTree(REFERENCE.resolve("cases.json").toFile());
    }

    @AfterAll
    static void close() throws IOException {
        if (tagger != null) {
            tagger.close();
        }
    }

    @Test
    void readsSizeAndTagsFromTheModel() {
        assertEquals(448, tagger.imageSize());
        List<String> names = tagger.labels().stream().map(Tagger.Label::name).toList();
        List<String> expected = new ArrayList<>();
        cases.get("tag_names_in_output_order").forEach(n -> expected.add(n.asText()));
        assertEquals(expected, names);
        assertEquals(4, tagger.labels().stream().filter(Tagger.Label::isRating).count());
    }

    @Test
    void directInputsGiveTheReferenceProbabilities() throws IOException {
        int side = 448;
        List<float[]> inputs = new ArrayList<>();
        List<float[]> expected = new ArrayList<>();
        for (JsonNode c : cases.get("direct_cases")) {
            String name = c.get("name").asText();
            float[] input = new float[side * side * 3];
            if (name.startsWith("constant_bgr_")) {
                String[] bgr = name.substring("constant_bgr_".length()).split("_");
                for (int i = 0; i < input.length; i++) {
                    input[i] = Float.parseFloat(bgr[i % 3]);
                }
            } else {
                assertEquals("top_white_bottom_black", name);
                Arrays.fill(input, 0, side / 2 * side * 3, 255f);
            }
            inputs.add(input);
            expected.add(floats(c.get("probs")));
        }
        float[][] probs = tagger.probabilities(inputs); // one batch of five
        for (int i = 0; i < probs.length; i++) {
            assertArrayClose(expected.get(i), probs[i], 1e-6, cases.get("direct_cases").get(i).get("name").asText());
        }
    }

    @Test
    void imagesGiveTheReferenceProbabilitiesAndTags() throws IOException {
        for (JsonNode c : cases.get("image_cases")) {
            String image = c.get("image").asText();
            float[] input = tagger.preprocess(Images.read(REFERENCE.resolve(image)));
            double[] mean = new double[3];
            for (int i = 0; i < input.length; i++) {
                mean[i % 3] += input[i];
            }
            for (int ch = 0; ch < 3; ch++) {
                assertEquals(c.get("preprocessed_mean_bgr_0_255").get(ch).asDouble(), mean[ch] / (input.length / 3), 0.01,
                        image + " channel " + ch);
            }
            float[] probs = tagger.probabilities(List.of(input))[0];
            assertArrayClose(floats(c.get("probs")), probs, PROBABILITY_TOLERANCE, image);

            Tagger.Prediction prediction = tagger.predict(probs, 0.35f);
            Set<String> expectedTags = new HashSet<>();
            c.get("tags_over_0.35").forEach(t -> expectedTags.add(t.asText()));
            List<String> tags = prediction.tags().stream().map(Tagger.Tag::name).toList();
            assertEquals(expectedTags, new HashSet<>(tags), image);
            for (int i = 1; i < prediction.tags().size(); i++) {
                assertTrue(prediction.tags().get(i - 1).probability() >= prediction.tags().get(i).probability(), image);
            }
            assertEquals(c.get("rating_argmax").asText(), prediction.rating().name(), image);
        }
    }

    @Test
    void runWritesCaptionsAndMetadata() throws Exception {
        Path data = Files.createDirectory(dir.resolve("data"));
        Files.copy(REFERENCE.resolve("red_448.png"), data.resolve("red.png"));
        Files.copy(REFERENCE.resolve("green_small_112.png"), data.resolve("green.png"));
        Files.writeString(data.resolve("red.txt"), "{'rating': 'g', 'tag_string_general': 'smile'}");
        Files.write(data.resolve("broken.png"), new byte[] {1, 2, 3});
        Path out = dir.resolve("out");

        StringWriter log = new StringWriter();
        Tagger.Result captions = Tagger.run(data, out, tagger, new Tagger.Options(0.35f, 2, Tagger.Format.CAPTION, ".caption"),
                2, new Progress("tagger", new PrintWriter(log, true), false));
        assertEquals(2, captions.summary().processed());
        assertEquals(1, captions.summary().failed());
        assertTrue(log.toString().contains("broken.png"), log.toString());
        assertEquals("red theme, hakurei reimu, 1girl, solo", Files.readString(out.resolve("red.caption")));
        assertEquals(Map.of("general", 2, "sensitive", 0, "questionable", 0, "explicit", 0), captions.ratings());

        Files.delete(data.resolve("broken.png"));
        Tagger.Result meta = Tagger.run(data, data, tagger, new Tagger.Options(0.35f, 64, Tagger.Format.METADATA, ".txt"),
                1, new Progress("tagger", new PrintWriter(new StringWriter()), false));
        assertFalse(meta.summary().anyFailed());
        Map<?, ?> red = Caption.parseMetadata(Files.readString(data.resolve("red.txt")));
        assertEquals("g", red.get("rating"));
        assertEquals("red_theme hakurei_reimu 1girl solo", red.get("tagger"));
        assertEquals("general", red.get("tagger_rating"));
        // An image without metadata gets a new file; caption then reads the tagger field.
        Map<?, ?> green = Caption.parseMetadata(Files.readString(data.resolve("green.json")));
        assertNotNull(green.get("tagger"));
        assertEquals("safe, red theme, hakurei reimu, 1girl, solo",
                Caption.caption(red, new Caption.Options(false, Set.of())));
        // Tagging again replaces the field rather than adding a second one.
        Tagger.run(data, data, tagger, new Tagger.Options(0.9f, 64, Tagger.Format.METADATA, ".txt"), 1,
                new Progress("tagger", new PrintWriter(new StringWriter()), false));
        assertEquals("red_theme", Caption.parseMetadata(Files.readString(data.resolve("red.txt"))).get("tagger"));
    }

    @Test
    void paddingCentresTheImageOnWhite() {
        // 448 wide, 224 high: 112 white rows above and below, the image in between, no resize.
        float[] input = tagger.preprocess(TestImages.solid(448, 224, 0x000000));
        int row = 448 * 3;
        assertEquals(255f, input[111 * row]);
        assertEquals(0f, input[112 * row]);
        assertEquals(0f, input[335 * row + row - 1]);
        assertEquals(255f, input[336 * row]);
    }

    @Test
    void metadataThatIsNotADictFailsNamingTheFile() throws Exception {
        Path data = Files.createDirectory(dir.resolve("plain"));
        Files.copy(REFERENCE.resolve("gray_448.png"), data.resolve("g.png"));
        Files.writeString(data.resolve("g.txt"), "a grey square");
        StringWriter log = new StringWriter();
        Tagger.Result result = Tagger.run(data, data, tagger, new Tagger.Options(0.35f, 8, Tagger.Format.METADATA, ".txt"),
                1, new Progress("tagger", new PrintWriter(log, true), false));
        assertEquals(1, result.summary().failed());
        assertTrue(log.toString().contains("g.txt"), log.toString());
        assertEquals("a grey square", Files.readString(data.resolve("g.txt")));
    }

    @Test
    void badTaggerFoldersAreReportedByFile() throws Exception {
        IOException missing = assertThrows(IOException.class, () -> Tagger.load(dir, null));
        assertTrue(missing.getMessage().contains("model.onnx"), missing.getMessage());

        Path copy = Files.createDirectory(dir.resolve("model"));
        Files.copy(FIXTURE.resolve("model.onnx"), copy.resolve("model.onnx"));
        Files.writeString(copy.resolve("selected_tags.csv"), "tag_id,name,category,count\n1,solo,0,5\n");
        IOException mismatch = assertThrows(IOException.class, () -> Tagger.load(copy, null));
        assertTrue(mismatch.getMessage().contains("lists 1 tags"), mismatch.getMessage());

        Files.copy(FIXTURE.resolve("selected_tags.csv"), copy.resolve("selected_tags.csv"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        IOException size = assertThrows(IOException.class, () -> Tagger.load(copy, 512));
        assertTrue(size.getMessage().contains("448x448"), size.getMessage());

        Files.writeString(copy.resolve("selected_tags.csv"), "tag_id,name,category,count\n1,solo,zero,5\n");
        IOException category = assertThrows(IOException.class, () -> Tagger.readLabels(copy.resolve("selected_tags.csv")));
        assertTrue(category.getMessage().contains("line 2"), category.getMessage());
    }

    @Test
    void labelsMayBeQuoted() throws Exception {
        Path csv = Files.writeString(dir.resolve("tags.csv"), "tag_id,name,category,count\n1,\"a,\"\"b\"\"\",0,3\n2,^_^,0,1\n");
        assertEquals(List.of(new Tagger.Label("a,\"b\"", 0), new Tagger.Label("^_^", 0)), Tagger.readLabels(csv));
    }

    @Test
    void captionSpellingKeepsEmoticons() {
        assertEquals("long hair", Tagger.captionSpelling("long_hair"));
        assertEquals("hatsune miku", Tagger.captionSpelling("hatsune_miku"));
        assertEquals("^_^", Tagger.captionSpelling("^_^"));
        assertEquals("o_o", Tagger.captionSpelling("o_o"));
        assertEquals("(o)_(o)", Tagger.captionSpelling("(o)_(o)"));
        assertEquals("1girl", Tagger.captionSpelling("1girl"));
    }

    private static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) array.get(i).asDouble();
        }
        return out;
    }

    private static void assertArrayClose(float[] expected, float[] actual, double tolerance, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tolerance, what + " [" + i + "]");
        }
    }
}

package sdtrainer.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sdtrainer.data.TestImages;

class CaptionTest {
    private static final Caption.Options TAGGER = new Caption.Options(false, Set.of());
    private static final Caption.Options ORIGIN = new Caption.Options(true, Set.of());

    @TempDir
    Path dir;

    private static Map<String, Object> meta(Object... keyValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put((String) keyValues[i], keyValues[i + 1]);
        }
        return m;
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "151 | masterpiece", "150 | best quality", "101 | best quality", "100 | high quality",
        "76 | high quality", "75 | medium quality", "26 | medium quality", "25 | ''", "0 | ''",
        "-1 | low quality", "-5 | low quality", "-6 | worst quality"})
    void scoreThresholds(int score, String expected) {
        assertEquals(expected, Caption.caption(meta("score", score), TAGGER));
    }

    @ParameterizedTest
    @CsvSource({"g, safe", "s, questionable", "q, nsfw", "e, nsfw"})
    void ratings(String rating, String expected) {
        assertEquals(expected, Caption.caption(meta("rating", rating), TAGGER));
    }

    @Test
    void resolutionMetatagsAndDeletedFlag() {
        assertEquals("highres, absurdres, lowres", Caption.caption(
                meta("tag_string_meta", "lowres translated absurdres commentary_request highres"), TAGGER));
        assertEquals("", Caption.caption(meta("tag_string_meta", "incredibly_absurdres_x commentary"), TAGGER));
        assertEquals("deleted", Caption.caption(meta("is_deleted", true), TAGGER));
        assertEquals("deleted", Caption.caption(meta("is_deleted", "True"), TAGGER));
        assertEquals("", Caption.caption(meta("is_deleted", false), TAGGER));
    }

    @Test
    void charactersBringTheirQualifiersAsTags() {
        assertEquals("astolfo, hatsune miku, fate, saber", Caption.caption(
                meta("tag_string_character", "astolfo_(fate) hatsune_miku astolfo_(saber)_(fate)"), TAGGER));
    }

    @Test
    void fullCaptionInTheOriginalsOrderWithoutDuplicates() {
        Map<String, Object> m = meta(
                "tag_string_general", "1girl long_hair smile",
                "tag_string_character", "astolfo_(fate)",
                "tag_string_copyright", "fate/grand_order fate_(series)",
                "tag_string_artist", "some_artist",
                "tag_string_meta", "highres",
                "tagger", "1boy pink_hair :d long_hair_ 1boy",
                "rating", "s",
                "score", 120,
                "is_deleted", false);
        assertEquals("best quality, questionable, highres, astolfo, fate, fate/grand order, some artist, "
                + "1boy, pink hair, :d, long hair", Caption.caption(m, TAGGER));
        assertEquals("best quality, questionable, highres, astolfo, fate, fate/grand order, some artist, "
                + "1girl, long hair, smile", Caption.caption(m, ORIGIN));
    }

    @Test
    void missingFieldsAreLeftOutAndWrongTypesRejected() {
        assertEquals("some artist", Caption.caption(meta("tag_string_artist", "some_artist", "tagger", null), TAGGER));
        assertThrows(IllegalArgumentException.class, () -> Caption.caption(meta("score", "high"), TAGGER));
        assertThrows(IllegalArgumentException.class, () -> Caption.caption(meta("tagger", 5), TAGGER));
    }

    @Test
    void excludedTagsMatchEitherSpelling() {
        Caption.Options options = new Caption.Options(false, Set.of("long_hair", "pink hair", "astolfo_(fate)", "safe"));
        Map<String, Object> m = meta("rating", "g", "tag_string_character", "astolfo_(fate) jeanne_d'arc_(fate)",
                "tagger", "long_hair pink_hair smile");
        assertEquals("jeanne d'arc, fate, smile", Caption.caption(m, options));
    }

    @Test
    void metadataIsReadAsJsonOrPythonDictText() {
        assertEquals(meta("score", 3, "rating", "g", "is_deleted", true),
                new HashMap<>(Caption.parseMetadata("{\"score\": 3, \"rating\": \"g\", \"is_deleted\": true}")));
        Map<?, ?> python = Caption.parseMetadata("{'score': 3, 'rating': 'g', 'is_deleted': True, 'parent_id': None}");
        assertEquals(3L, python.get("score"));
        assertEquals(Boolean.TRUE, python.get("is_deleted"));
        // The original removed the quotes of "lazy" before parsing; the text is not a valid literal otherwise.
        Map<?, ?> lazy = Caption.parseMetadata("{'tagger': \"1girl \"lazy\" solo\"}");
        assertEquals("1girl lazy solo", lazy.get("tagger"));
        assertThrows(IllegalArgumentException.class, () -> Caption.parseMetadata("1girl, solo"));
        assertThrows(IllegalArgumentException.class, () -> Caption.parseMetadata("[1, 2]"));
    }

    @Test
    void readsExcludeTagFiles() throws Exception {
        Path file = Files.writeString(dir.resolve("exclude.txt"), "# personal list\nlong_hair, pink_hair\n\n  smile \n");
        assertEquals(Set.of("long_hair", "pink_hair", "smile"), Caption.readExcludeTags(file));
    }

    @Test
    void runCaptionsEveryMetadataFileAndReportsTheOthers() throws Exception {
        byte[] png = TestImages.png(1, 1, TestImages.GREY, 8, new byte[1], null, null);
        Files.write(dir.resolve("a.png"), png);
        Files.writeString(dir.resolve("a.txt"), "{'rating': 'g', 'tagger': '1girl solo', 'score': 200}");
        Files.write(dir.resolve("b.webp"), png); // the content is never decoded
        Files.writeString(dir.resolve("b.json"), "{\"rating\": \"e\", \"tagger\": \"1boy\"}");
        Files.writeString(dir.resolve("b.txt"), "{'rating': 'g'}"); // the .json of a stem wins
        Files.write(dir.resolve("c.jpg"), png); // no metadata: nothing to caption
        Files.write(dir.resolve("d.png"), png);
        Files.writeString(dir.resolve("d.txt"), "{'rating': 'g', 'tagger': '1girl");
        Files.writeString(dir.resolve("orphan.txt"), "{'rating': 'g', 'tag_string_general': 'cat'}"); // no image
        Files.writeString(dir.resolve("plain.txt"), "1girl, solo"); // a caption, not metadata
        Files.writeString(dir.resolve("other.json"), "{\"width\": 512}"); // a dict, but no danbooru field

        StringWriter log = new StringWriter();
        Progress.Summary summary = Caption.run(dir, TAGGER, 2, new Progress("caption", new PrintWriter(log), false));

        assertEquals(3, summary.processed());
        assertEquals(2, summary.skipped());
        assertEquals(1, summary.failed());
        assertTrue(log.toString().contains("d.txt: not a Python literal"), log.toString());
        assertTrue(log.toString().contains("plain.txt: not danbooru metadata"), log.toString());
        assertTrue(log.toString().contains("other.json: not danbooru metadata"), log.toString());
        assertEquals("masterpiece, safe, 1girl, solo", Files.readString(dir.resolve("a.caption")));
        assertEquals("nsfw, 1boy", Files.readString(dir.resolve("b.caption")));
        assertEquals("safe", Files.readString(dir.resolve("orphan.caption"))); // general tags come from tagger
        assertTrue(Files.notExists(dir.resolve("c.caption")));
        assertTrue(Files.notExists(dir.resolve("d.caption")));
        assertTrue(Files.notExists(dir.resolve("plain.caption")));
        assertTrue(Files.notExists(dir.resolve("other.caption")));
    }
}

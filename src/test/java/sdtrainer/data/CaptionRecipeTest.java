package sdtrainer.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Caption processing against kohya 48d368fa's process_caption (src/test/resources/recipe/reference.json, made by
 * make_reference.py) on the cases whose result does not depend on the draws, and the drawn cases by their laws.
 */
class CaptionRecipeTest {

    @Test
    void deterministicCasesMatchKohya() throws IOException {
        JsonNode ref;
        try (InputStream in = getClass().getResourceAsStream("/recipe/reference.json")) {
            ref = new ObjectMapper().readTree(in);
        }
        int checked = 0;
        for (JsonNode c : ref.get("captions")) {
            JsonNode o = c.get("options");
            CaptionRecipe recipe = new CaptionRecipe(text(o, "caption_prefix"), text(o, "caption_suffix"),
                    o.path("caption_dropout_rate").asDouble(0), o.path("shuffle_caption").asBoolean(false),
                    o.path("keep_tokens").asInt(0), o.path("caption_separator").asText(","),
                    o.path("caption_tag_dropout_rate").asDouble(0));
            assertEquals(c.get("result").asText(), recipe.apply(c.get("caption").asText(), new Random(1)), c.toString());
            checked++;
        }
        assertEquals(12, checked);
    }

    private static String text(JsonNode o, String key) {
        return o.has(key) ? o.get(key).asText() : null;
    }

    @Test
    void shuffleKeepsTheFirstTagsAndPermutesTheRest() {
        CaptionRecipe r = new CaptionRecipe(null, null, 0, true, 2, ",", 0);
        String caption = "sks, 1girl, a, b, c, d, e";
        Set<String> seen = new HashSet<>();
        for (int seed = 0; seed < 50; seed++) {
            String out = r.apply(caption, new Random(seed));
            assertTrue(out.startsWith("sks, 1girl, "), out);
            List<String> tags = Arrays.asList(out.split(", "));
            assertEquals(Set.of("sks", "1girl", "a", "b", "c", "d", "e"), new HashSet<>(tags));
            seen.add(out);
        }
        assertTrue(seen.size() > 20, "shuffles differ from draw to draw: " + seen.size());
        assertEquals(r.apply(caption, new Random(7)), r.apply(caption, new Random(7)), "same generator, same caption");
    }

    @Test
    void dropoutRatesAreTheirFrequencies() {
        CaptionRecipe whole = new CaptionRecipe(null, null, 0.25, false, 0, ",", 0);
        CaptionRecipe tags = new CaptionRecipe(null, null, 0, false, 1, ",", 0.5);
        Random random = new Random(3);
        int empty = 0, keptTags = 0, n = 4000;
        for (int i = 0; i < n; i++) {
            if (whole.apply("a, b", random).isEmpty()) empty++;
            String out = tags.apply("keep, x, y", random);
            assertTrue(out.startsWith("keep"), "the kept tag is never dropped: " + out);
            keptTags += out.split(", ").length - 1;
        }
        assertEquals(0.25, empty / (double) n, 0.03);
        assertEquals(1.0, keptTags / (double) n, 0.06, "half of the two droppable tags on average");
    }

    @Test
    void keepTokensBeyondTheCaptionIsAProblem() {
        CaptionRecipe r = new CaptionRecipe("sks", null, 0, true, 3, ",", 0);
        assertTrue(r.problem("a, b, c").isEmpty());
        String p = r.problem("a, b").orElseThrow();
        assertTrue(p.contains("--keep_tokens 3") && p.contains("2 tag"), p);
        assertTrue(new CaptionRecipe(null, null, 0, false, 3, ",", 0).problem("a").isEmpty(),
                "without shuffling or tag dropout keep_tokens does nothing");
    }

    @Test
    void noOptionsLeavesCaptionsUntouched() {
        assertTrue(CaptionRecipe.none().isIdentity());
        assertEquals(" a,b\nsecond line ", CaptionRecipe.none().apply(" a,b\nsecond line ", new Random(0)));
    }
}

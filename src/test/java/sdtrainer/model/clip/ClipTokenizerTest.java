package sdtrainer.model.clip;

import sdtrainer.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.io.SafeTensors;

import java.io.IOException;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class ClipTokenizerTest {

    private static final Path FIXTURE = Fixtures.TINY_SD15;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One `tokenizer` case of cases.json with its prompts and tokenizer. */
    private record Case(JsonNode prompts, ClipTokenizer tokenizer, Path tensorFile) {
    }

    /** Loaded once: the tokenizer load dominates the run time. */
    private static List<Case> loadedCases;

    private static synchronized List<Case> tokenizerCases() throws IOException {
        Path reference = FIXTURE.resolve("reference");
        assumeTrue(Files.isDirectory(reference), "fixtures not present: " + reference);
        if (loadedCases != null) {
            return loadedCases;
        }
        List<Case> cases = new ArrayList<>();
        for (JsonNode c : JSON.readTree(reference.resolve("cases.json").toFile()).get("cases")) {
            if (c.get("kind").asText().equals("tokenizer")) {
                JsonNode prompts = JSON.readTree(reference.resolve(c.get("json").asText()).toFile()).get("prompts");
                ClipTokenizer tok = ClipTokenizer.load(FIXTURE.resolve(c.get("tokenizer_dir").asText()));
                cases.add(new Case(prompts, tok, reference.resolve(c.get("file").asText())));
            }
        }
        assertFalse(cases.isEmpty(), "cases.json has no tokenizer case");
        loadedCases = cases;
        return cases;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    private static long[][] readMatrix(SafeTensors file, String name) throws IOException {
        long[] shape = file.info(name).shape();
        LongBuffer data = file.bytes(name).asLongBuffer();
        long[][] rows = new long[(int) shape[0]][(int) shape[1]];
        for (long[] row : rows) {
            data.get(row);
        }
        return rows;
    }

    @Test
    void unpaddedIdsAndTokensEqualTransformersWithFtfy() throws IOException {
        for (Case c : tokenizerCases()) {
            for (JsonNode p : c.prompts()) {
                String text = p.get("text").asText();
                String label = p.get("index").asInt() + " " + p.get("id").asText();
                int[] full = c.tokenizer().encode(text);
                assertEquals(p.get("untruncated_len_ftfy").asInt(), full.length, label);
                assertEquals(strings(p.get("bpe_tokens_ftfy")), c.tokenizer().tokens(text), label);
                // the reference ids are truncated to model_max_length but not padded
                int[] expected = ints(p.get("ids_ftfy"));
                if (full.length <= c.tokenizer().maxLength()) {
                    assertArrayEquals(expected, full, label);
                }
                int real = (int) Arrays.stream(c.tokenizer().attentionMask(text)).sum();
                long[] padded = c.tokenizer().encodePadded(text);
                assertArrayEquals(Arrays.stream(expected).asLongStream().toArray(), Arrays.copyOf(padded, real), label);
            }
        }
    }

    @Test
    void paddedBatchAndMasksEqualReferenceTensors() throws IOException {
        for (Case c : tokenizerCases()) {
            List<String> texts = new ArrayList<>();
            c.prompts().forEach(p -> texts.add(p.get("text").asText()));
            long[][] ids = c.tokenizer().encodeBatch(texts);
            long[][] masks = c.tokenizer().attentionMasks(texts);
            try (SafeTensors file = SafeTensors.open(c.tensorFile())) {
                long[][] expectedIds = readMatrix(file, "output.input_ids.ftfy");
                long[][] expectedMasks = readMatrix(file, "output.attention_mask.ftfy");
                assertEquals(expectedIds.length, texts.size());
                for (int i = 0; i < texts.size(); i++) {
                    assertArrayEquals(expectedIds[i], ids[i], "ids row " + i);
                    assertArrayEquals(expectedMasks[i], masks[i], "mask row " + i);
                    assertArrayEquals(expectedIds[i], c.tokenizer().encodePadded(texts.get(i)), "row " + i);
                }
            }
        }
    }

    @Test
    void truncationKeepsBosFirstTokensAndEos() throws IOException {
        ClipTokenizer tok = tokenizerCases().get(0).tokenizer();
        assertEquals(77, tok.maxLength());
        String text = "a ".repeat(100);
        int[] full = tok.encode(text);
        assertEquals(102, full.length);
        long[] padded = tok.encodePadded(text);
        assertEquals(tok.bosId(), padded[0]);
        assertEquals(tok.eosId(), padded[76]);
        for (int i = 1; i < 76; i++) {
            assertEquals(full[i], padded[i]);
        }
        long[] mask = tok.attentionMask(text);
        assertTrue(Arrays.stream(mask).allMatch(m -> m == 1));
    }

    /** The 7 prompts where ftfy changes the ids (CJK spacing, half-/full-width, quotes, ligatures, "\u01c5"). */
    @Test
    void ftfyDependentPromptsFollowTheFtfyVariant() throws IOException {
        for (Case c : tokenizerCases()) {
            int differing = 0;
            for (JsonNode p : c.prompts()) {
                if (p.get("ftfy_differs").asBoolean()) {
                    differing++;
                    int[] ids = c.tokenizer().encode(p.get("text").asText());
                    assertArrayEquals(ints(p.get("ids_ftfy")), ids, p.get("id").asText());
                    assertFalse(Arrays.equals(ints(p.get("ids_noftfy")), ids), p.get("id").asText());
                }
            }
            assertEquals(7, differing);
        }
    }

    @Test
    void specialTokensInTextStayWhole() throws IOException {
        ClipTokenizer tok = tokenizerCases().get(0).tokenizer();
        int[] ids = tok.encode("a<|endoftext|>b <|startoftext|>");
        assertArrayEquals(new int[] {tok.bosId(), 320, tok.eosId(), 321, tok.bosId(), tok.eosId()}, ids);
    }

    @Test
    void fixtureTokenizerReadsItsSpecialTokens() throws IOException {
        ClipTokenizer tok = tokenizerCases().get(0).tokenizer();
        assertEquals(49406, tok.bosId());
        assertEquals(49407, tok.eosId());
        assertEquals(49407, tok.padId());
        assertEquals(49408, tok.vocabSize());
    }

    /** A tiny tokenizer in the layout of SD2's: pad is the plain string "!" (id 0). */
    @Nested
    class OwnTokenizerFiles {

        @TempDir
        Path dir;

        private void write(String vocab, String specialMap, String config) throws IOException {
            Files.writeString(dir.resolve("vocab.json"), vocab);
            Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\na b</w>\na b\n");
            Files.writeString(dir.resolve("special_tokens_map.json"), specialMap);
            Files.writeString(dir.resolve("tokenizer_config.json"), config);
        }

        private void writeSd2Like() throws IOException {
            write("""
                    {"!": 0, "a": 1, "b": 2, "a</w>": 3, "b</w>": 4, "ab</w>": 5, "ab": 6,
                     "<|startoftext|>": 7, "<|endoftext|>": 8, "!</w>": 9}""",
                    """
                    {"bos_token": {"content": "<|startoftext|>", "lstrip": false},
                     "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "!"}""",
                    """
                    {"model_max_length": 6, "pad_token": "<|endoftext|>"}""");
        }

        @Test
        void padsWithItsOwnPadToken() throws IOException {
            writeSd2Like();
            ClipTokenizer tok = ClipTokenizer.load(dir);
            assertEquals(7, tok.bosId());
            assertEquals(8, tok.eosId());
            assertEquals(0, tok.padId());
            assertEquals(6, tok.maxLength());
            assertEquals(List.of("ab</w>", "b", "a</w>"), tok.tokens("AB  ba"));
            assertArrayEquals(new long[] {7, 5, 8, 0, 0, 0}, tok.encodePadded("ab"));
            assertArrayEquals(new long[] {1, 1, 1, 0, 0, 0}, tok.attentionMask("ab"));
            assertArrayEquals(new long[] {7, 5, 5, 5, 5, 8}, tok.encodePadded("ab ab ab ab ab"));
            // as in transformers' slow tokenizer, the special "!" is split off before BPE
            assertArrayEquals(new int[] {7, 5, 0, 8}, tok.encode("ab!"));
            assertArrayEquals(new int[] {7, 5, 9, 8}, tok.encode("ab \uff01"));
        }

        @Test
        void specialTokenMissingFromVocabGetsNextId() throws IOException {
            write("""
                    {"a": 0, "b": 1, "a</w>": 2, "b</w>": 3, "ab</w>": 4, "ab": 5,
                     "<|startoftext|>": 6, "<|endoftext|>": 7}""",
                    "{\"pad_token\": \"<pad>\"}",
                    "{\"model_max_length\": 4}");
            ClipTokenizer tok = ClipTokenizer.load(dir);
            assertEquals(8, tok.padId());
            assertArrayEquals(new long[] {6, 4, 7, 8}, tok.encodePadded("ab"));
        }

        @Test
        void missingMaxLengthNamesTheFile() throws IOException {
            writeSd2Like();
            Files.writeString(dir.resolve("tokenizer_config.json"), "{}");
            IOException e = assertThrows(IOException.class, () -> ClipTokenizer.load(dir));
            assertTrue(e.getMessage().contains("tokenizer_config.json"), e.getMessage());
            assertTrue(e.getMessage().contains("model_max_length"), e.getMessage());
        }

        @Test
        void malformedMergeLineNamesFileAndLine() throws IOException {
            writeSd2Like();
            Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\na b\nab\n");
            IOException e = assertThrows(IOException.class, () -> ClipTokenizer.load(dir));
            assertTrue(e.getMessage().contains("merges.txt: line 3"), e.getMessage());
        }
    }

    /** ftfy 6.1.1 behaviour beyond what the 40 reference prompts exercise. */
    @Nested
    class FixText {

        @Test
        void unescapesHtmlUntilStableButNotAfterALineWithTags() {
            assertEquals("fish & chips", TextFixer.fixText("fish &amp;amp; chips"));
            assertEquals("A\u00e9 &#59; &Amp; &AMP", TextFixer.fixText("&#x41;&#233; &#59; &Amp; &AMP"));
            assertEquals("x & y\n<b> &amp;\n&amp;", TextFixer.fixText("x &amp; y\n<b> &amp;\n&amp;"));
        }

        @Test
        void repairsControlsQuotesAndLineBreaks() {
            assertEquals("\"hi\" 'there'\u2026", TextFixer.fixText("\u0093hi\u0094 \u2018there\u2019\u0085"));
            assertEquals("red text", TextFixer.fixText("\u001b[31mred\u001b[0m\u0007 text\ufeff"));
            assertEquals("a\nb\nc\n", TextFixer.fixText("a\r\nb\rc\u2028"));
        }

        /** {@code ftfy/fix_text_cases.json}: ftfy 6.1.1's documented examples and mojibake prompts, run through ftfy. */
        @Test
        void matchesFtfyOnItsDocumentedExamplesAndMojibakePrompts() throws IOException {
            JsonNode cases = new ObjectMapper().readTree(ClipTokenizerTest.class.getResource("/ftfy/fix_text_cases.json"));
            int supported = 0;
            for (JsonNode c : cases) {
                String input = c.get("input").asText();
                if (c.get("supported").asBoolean()) {
                    assertEquals(c.get("ftfy").asText(), TextFixer.fixText(input), input);
                    supported++;
                } else {
                    assertNotEquals(c.get("ftfy").asText(), TextFixer.fixText(input), "now supported: " + input);
                }
            }
            assertTrue(supported >= 25, "cases: " + supported);
            assertEquals("caf\u00e9", TextFixer.fixText("caf\u00c3\u00a9"));
        }

        @Test
        void badnessHeuristicSeesMojibakeButNotAccentedText() {
            assertTrue(TextFixer.isBad("caf\u00c3\u00a9"));
            assertTrue(TextFixer.isBad("\u00e2\u20ac\u0153"));
            assertFalse(TextFixer.isBad("caf\u00e9 na\u00efve \u00c9t\u00e9"));
            assertFalse(TextFixer.isBad("IL Y MARQU\u00c9\u2026"));
        }

        @Test
        void widensHalfwidthKanaAndComposesVoicedMarks() {
            assertEquals("\u30ac\u30a4 ABC", TextFixer.fixText("\uff76\uff9e\uff72\u3000\uff21\uff22\uff23"));
        }
    }
}

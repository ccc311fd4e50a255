package sdtrainer.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.model.clip.ClipTokenizer;

class BpeTokenizerFilesTest {
    private static final List<String> CAPTIONS = List.of("a red circle on a white background",
            "a blue star on a black background", "a green square on a grey background", "a yellow triangle on a white background",
            "a red star on a grey background");

    @TempDir
    Path dir;

    @Test
    void ourTokenizerReadsTheFilesAndEveryCaptionWordBecomesOneToken() throws IOException {
        BpeTokenizerFiles.Built built = BpeTokenizerFiles.write(dir, CAPTIONS, 300);
        ClipTokenizer tokenizer = ClipTokenizer.load(dir);

        assertEquals(built.vocabSize(), tokenizer.vocabSize());
        assertEquals(512 + 2, built.vocabSize() - built.merges().size(), "bytes, bytes</w>, one token per merge, 2 specials");
        assertEquals(built.bosId(), tokenizer.bosId());
        assertEquals(built.eosId(), tokenizer.eosId());
        assertEquals(built.eosId(), tokenizer.padId());
        assertEquals(BpeTokenizerFiles.MODEL_MAX_LENGTH, tokenizer.maxLength());
        for (String caption : CAPTIONS) {
            List<String> words = List.of(caption.split(" "));
            assertEquals(words.stream().map(w -> w + "</w>").toList(), tokenizer.tokens(caption), caption);
            int[] ids = tokenizer.encode(caption);
            assertEquals(words.size() + 2, ids.length);
            for (int i = 1; i < ids.length - 1; i++) {
                assertTrue(ids[i] >= 0 && ids[i] < built.eosId() && ids[i] != built.bosId(), caption + ": id " + ids[i]);
            }
        }
    }

    @Test
    void wordsOutsideTheCorpusFallBackToBytesInsteadOfUnknown() throws IOException {
        BpeTokenizerFiles.Built built = BpeTokenizerFiles.write(dir, CAPTIONS, 300);
        ClipTokenizer tokenizer = ClipTokenizer.load(dir);
        int[] ids = tokenizer.encode("Purple hexagon, 7 sides! café");
        for (int i = 1; i < ids.length - 1; i++) assertTrue(ids[i] < built.bosId(), "id " + ids[i] + " is special");
        assertEquals("p", tokenizer.tokens("purple").get(0).substring(0, 1));
    }

    @Test
    void mergesAreTheMostFrequentPairsFirstWithinTheLimitAndTheFileHasCLIPsHeader() throws IOException {
        BpeTokenizerFiles.Built built = BpeTokenizerFiles.write(dir, CAPTIONS, 3);
        assertEquals(3, built.merges().size());
        // 'g r' occurs 7 times (5 × background, grey, green), 'a c' 6 times (5 × background, black), the rest less
        assertEquals(List.of("g r", "a c"), built.merges().subList(0, 2));
        List<String> lines = Files.readAllLines(dir.resolve("merges.txt"), StandardCharsets.UTF_8);
        assertEquals("#version: 0.2", lines.get(0));
        assertEquals(built.merges(), lines.subList(1, lines.size()));
        assertTrue(built.vocab().containsAll(List.of("gr", "ac")));
    }

    @Test
    void learningStopsWhenEveryWordIsOneSymbol() {
        BpeTokenizerFiles.Built built = BpeTokenizerFiles.learn(List.of("ab ab", "cd"), 100);
        assertEquals(List.of("a b</w>", "c d</w>"), built.merges());
        assertEquals(List.of("ab</w>", "cd</w>", BpeTokenizerFiles.BOS, BpeTokenizerFiles.EOS),
                built.vocab().subList(512, built.vocabSize()));
    }
}

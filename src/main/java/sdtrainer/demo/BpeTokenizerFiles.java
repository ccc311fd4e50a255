package sdtrainer.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import sdtrainer.io.AtomicFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Builds a small CLIP-format tokenizer directory from a text corpus, so the demo needs no download: a byte-level
 * BPE {@code vocab.json} (CLIP's 256 byte symbols, each again with {@code </w>}, the learned merges, then
 * {@code <|startoftext|>} and {@code <|endoftext|>}), {@code merges.txt}, {@code special_tokens_map.json} and
 * {@code tokenizer_config.json}. transformers' {@code CLIPTokenizer} and our
 * {@link sdtrainer.model.clip.ClipTokenizer} read it as they read the real CLIP files.
 *
 * <p>Merges are learned greedily: count adjacent symbol pairs over the corpus' words (weighted by frequency),
 * merge the most frequent pair (ties broken by the pair's text), repeat until every word is one symbol or the
 * limit is reached, so that with a large enough limit every corpus word is one token. Any other text still
 * tokenizes, falling back to single bytes.
 */
public final class BpeTokenizerFiles {
    public static final String BOS = "<|startoftext|>", EOS = "<|endoftext|>";
    static final String END_OF_WORD = "</w>";
    public static final int MODEL_MAX_LENGTH = 77;
    /** CLIP's word splitting after lower-casing: letter runs, single digits, runs of other non-space characters. */
    private static final Pattern WORD = Pattern.compile("\\p{L}+|\\p{N}|[^\\s\\p{L}\\p{N}]+");
    private static final ObjectMapper JSON = new ObjectMapper();

    private BpeTokenizerFiles() {}

    /** What was built: the vocabulary in id order (its size is the text encoder's vocab_size) and the merges. */
    public record Built(List<String> vocab, List<String> merges) {
        public int vocabSize() { return vocab.size(); }
        public int bosId() { return vocab.indexOf(BOS); }
        public int eosId() { return vocab.indexOf(EOS); }
    }

    /** Learns at most {@code maxMerges} merges from {@code corpus} and writes the four tokenizer files into {@code dir}. */
    public static Built write(Path dir, List<String> corpus, int maxMerges) throws IOException {
        Built built = learn(corpus, maxMerges);
        Files.createDirectories(dir);
        Map<String, Integer> ids = new LinkedHashMap<>();
        for (String token : built.vocab()) ids.put(token, ids.size());
        AtomicFiles.writeBytes(dir.resolve("vocab.json"), JSON.writeValueAsBytes(ids));
        StringBuilder merges = new StringBuilder("#version: 0.2\n");
        built.merges().forEach(m -> merges.append(m).append('\n'));
        AtomicFiles.writeBytes(dir.resolve("merges.txt"), merges.toString().getBytes(StandardCharsets.UTF_8));

        ObjectNode special = JSON.createObjectNode()
                .put("bos_token", BOS).put("eos_token", EOS).put("unk_token", EOS).put("pad_token", EOS);
        AtomicFiles.writeBytes(dir.resolve("special_tokens_map.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(special));
        ObjectNode config = special.deepCopy()
                .put("tokenizer_class", "CLIPTokenizer")
                .put("model_max_length", MODEL_MAX_LENGTH)
                .put("do_lower_case", true)
                .put("add_prefix_space", false)
                .put("errors", "replace");
        AtomicFiles.writeBytes(dir.resolve("tokenizer_config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(config));
        return built;
    }

    /** The vocabulary and merges {@link #write} would write. */
    public static Built learn(List<String> corpus, int maxMerges) {
        String[] byteSymbols = byteAlphabet();
        Map<List<String>, Integer> words = new LinkedHashMap<>();
        for (String text : corpus) {
            Matcher m = WORD.matcher(text.toLowerCase(Locale.ROOT));
            while (m.find()) words.merge(symbols(m.group(), byteSymbols), 1, Integer::sum);
        }
        List<String> vocab = new ArrayList<>();
        for (int b : clipByteOrder()) vocab.add(byteSymbols[b]);
        for (int b : clipByteOrder()) vocab.add(byteSymbols[b] + END_OF_WORD);
        List<String> merges = new ArrayList<>();
        while (merges.size() < maxMerges) {
            Map<String, Integer> pairCounts = new TreeMap<>();
            words.forEach((symbols, count) -> {
                for (int i = 0; i + 1 < symbols.size(); i++) {
                    pairCounts.merge(symbols.get(i) + " " + symbols.get(i + 1), count, Integer::sum);
                }
            });
            String best = null;
            int bestCount = 0;
            for (Map.Entry<String, Integer> e : pairCounts.entrySet()) {
                if (e.getValue() > bestCount) {
                    best = e.getKey();
                    bestCount = e.getValue();
                }
            }
            if (best == null) break;
            merges.add(best);
            String[] pair = best.split(" ");
            // "ab"+"c" and "a"+"bc" make the same token: one vocabulary entry serves both merges
            if (!vocab.contains(pair[0] + pair[1])) vocab.add(pair[0] + pair[1]);
            Map<List<String>, Integer> merged = new LinkedHashMap<>();
            words.forEach((symbols, count) -> merged.merge(merge(symbols, pair[0], pair[1]), count, Integer::sum));
            words = merged;
        }
        vocab.add(BOS);
        vocab.add(EOS);
        return new Built(List.copyOf(vocab), List.copyOf(merges));
    }

    /** A word's UTF-8 bytes as byte symbols, the last one marked as the word's end. */
    private static List<String> symbols(String word, String[] byteSymbols) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        List<String> out = new ArrayList<>(bytes.length);
        for (byte b : bytes) out.add(byteSymbols[b & 0xff]);
        out.set(out.size() - 1, out.get(out.size() - 1) + END_OF_WORD);
        return out;
    }

    private static List<String> merge(List<String> symbols, String first, String second) {
        List<String> out = new ArrayList<>(symbols.size());
        for (int i = 0; i < symbols.size(); i++) {
            if (i + 1 < symbols.size() && symbols.get(i).equals(first) && symbols.get(i + 1).equals(second)) {
                out.add(first + second);
                i++;
            } else {
                out.add(symbols.get(i));
            }
        }
        return out;
    }

    private static boolean printable(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    }

    /** GPT-2/CLIP's byte-to-character table: printable bytes map to themselves, the rest to 256, 257, ... in byte order. */
    private static String[] byteAlphabet() {
        String[] table = new String[256];
        int next = 256;
        for (int b = 0; b < 256; b++) table[b] = String.valueOf((char) (printable(b) ? b : next++));
        return table;
    }

    /** The order of CLIP's first 256 vocabulary entries: printable bytes, then the others. */
    private static int[] clipByteOrder() {
        int[] order = new int[256];
        int n = 0;
        for (int b = 0; b < 256; b++) if (printable(b)) order[n++] = b;
        for (int b = 0; b < 256; b++) if (!printable(b)) order[n++] = b;
        return order;
    }
}

package sdtrainer.model.clip;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CLIP byte-level BPE tokenizer, id for id equal to transformers 4.33's slow {@code CLIPTokenizer} with
 * ftfy installed (the setup of kohya sd-scripts and diffusers training scripts).
 *
 * <p>Pipeline per text: split off special tokens (bos/eos/unk/pad/... as written in the text, matched
 * case-sensitively, like the slow tokenizer's added-token trie); on each remaining chunk
 * {@link TextFixer ftfy.fix_text}, whitespace runs to one space, strip, lower-case; split with CLIP's
 * word regex; UTF-8 bytes to the printable byte alphabet; BPE with {@code </w>} on the last symbol of a
 * word. Note that with a tokenizer whose pad token is an ordinary string such as SD2's {@code "!"}, every
 * {@code "!"} in a prompt becomes that special token, exactly as in transformers.
 *
 * <p>Thread-safe: the BPE cache is concurrent and everything else is immutable.
 */
public final class ClipTokenizer {

    /** CLIP's word splitter; Python compiles it with re.IGNORECASE (matters only for e.g. "'ſ"). */
    private static final Pattern WORD = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}|[^\\p{IsWhite_Space}\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);
    private static final Pattern WHITESPACE = Pattern.compile("\\p{IsWhite_Space}+");
    private static final Pattern MERGE_FIELDS = Pattern.compile("\\s+");
    /** The slow tokenizer reads only this many merges (49152 - 256 - 2), whatever the file holds. */
    private static final int MAX_MERGES = 48894;
    private static final String END_OF_WORD = "</w>";
    /** Order in which transformers registers special tokens (and appends those missing from the vocab). */
    private static final List<String> SPECIAL_TOKEN_KEYS =
            List.of("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token");
    /** CLIPTokenizer's constructor defaults, used when neither file names the token. */
    private static final Map<String, String> DEFAULT_SPECIAL_TOKENS = Map.of(
            "bos_token", "<|startoftext|>", "eos_token", "<|endoftext|>",
            "unk_token", "<|endoftext|>", "pad_token", "<|endoftext|>");
    private static final String[] BYTE_TO_CHAR = byteAlphabet();

    /** BPE result for one regex word: token strings and their ids. */
    private record Piece(String[] tokens, int[] ids) {
    }

    private final Map<String, Integer> vocab;
    private final Map<String, Integer> mergeRanks;
    /** Special token text to id, longest first so that the leftmost match is also the longest. */
    private final Map<String, Integer> specialTokens;
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final int unkId;
    private final int maxLength;
    private final Map<String, Piece> cache = new ConcurrentHashMap<>();

    private ClipTokenizer(Map<String, Integer> vocab, Map<String, Integer> mergeRanks,
                          Map<String, Integer> specialTokens, int bosId, int eosId, int padId, int unkId,
                          int maxLength) {
        this.vocab = vocab;
        this.mergeRanks = mergeRanks;
        this.specialTokens = specialTokens;
        this.bosId = bosId;
        this.eosId = eosId;
        this.padId = padId;
        this.unkId = unkId;
        this.maxLength = maxLength;
        // CLIPTokenizer seeds its cache so that these two words are never split
        for (String special : List.of("<|startoftext|>", "<|endoftext|>")) {
            cache.put(special, new Piece(new String[] {special}, new int[] {idOf(special)}));
        }
    }

    /**
     * Loads {@code vocab.json}, {@code merges.txt}, {@code special_tokens_map.json} (optional) and
     * {@code tokenizer_config.json} from a transformers tokenizer directory.
     */
    public static ClipTokenizer load(Path dir) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Map<String, Integer> vocab = readVocab(json, dir.resolve("vocab.json"));
        Map<String, Integer> ranks = readMerges(dir.resolve("merges.txt"));

        Path configFile = dir.resolve("tokenizer_config.json");
        JsonNode config = readJson(json, configFile);
        Path mapFile = dir.resolve("special_tokens_map.json");
        JsonNode specialMap = Files.exists(mapFile) ? readJson(json, mapFile) : json.createObjectNode();

        // special_tokens_map.json overrides tokenizer_config.json, as in from_pretrained
        Map<String, String> named = new LinkedHashMap<>();
        for (String key : SPECIAL_TOKEN_KEYS) {
            String token = tokenText(specialMap.get(key), mapFile, key);
            if (token == null) {
                token = tokenText(config.get(key), configFile, key);
            }
            if (token == null) {
                token = DEFAULT_SPECIAL_TOKENS.get(key);
            }
            if (token != null) {
                named.put(key, token);
            }
        }
        List<String> all = new ArrayList<>(named.values());
        JsonNode additional = specialMap.has("additional_special_tokens")
                ? specialMap.get("additional_special_tokens") : config.get("additional_special_tokens");
        if (additional != null && additional.isArray()) {
            for (JsonNode node : additional) {
                String token = tokenText(node, mapFile, "additional_special_tokens");
                if (token != null) {
                    all.add(token);
                }
            }
        }

        String unk = named.get("unk_token");
        Integer unkId = vocab.get(unk);
        if (unkId == null) {
            throw new IOException(dir.resolve("vocab.json") + ": has no entry for the unk_token " + quote(unk));
        }
        // transformers appends special tokens missing from the vocabulary as new ids, in registration order
        Map<String, Integer> specialIds = new HashMap<>();
        int nextId = vocab.size();
        for (String token : all) {
            if (!specialIds.containsKey(token)) {
                Integer id = vocab.get(token);
                specialIds.put(token, id != null ? id : nextId++);
            }
        }
        Map<String, Integer> longestFirst = new LinkedHashMap<>();
        specialIds.keySet().stream()
                .filter(t -> !t.isEmpty())
                .sorted((a, b) -> b.length() != a.length() ? b.length() - a.length() : a.compareTo(b))
                .forEach(t -> longestFirst.put(t, specialIds.get(t)));

        JsonNode maxNode = config.get("model_max_length");
        if (maxNode == null || !maxNode.canConvertToInt() || maxNode.asInt() < 2) {
            throw new IOException(configFile + ": model_max_length must be an integer >= 2, got " + maxNode);
        }
        return new ClipTokenizer(vocab, ranks, longestFirst, specialIds.get(named.get("bos_token")),
                specialIds.get(named.get("eos_token")), specialIds.get(named.get("pad_token")), unkId,
                maxNode.asInt());
    }

    /** Ids with BOS and EOS, not truncated. */
    public int[] encode(String text) {
        List<Piece> pieces = pieces(text);
        int n = pieces.stream().mapToInt(p -> p.ids.length).sum();
        int[] ids = new int[n + 2];
        ids[0] = bosId;
        int pos = 1;
        for (Piece p : pieces) {
            System.arraycopy(p.ids, 0, ids, pos, p.ids.length);
            pos += p.ids.length;
        }
        ids[pos] = eosId;
        return ids;
    }

    /**
     * Exactly {@link #maxLength()} ids: BOS, the first maxLength-2 content tokens, EOS, then pad ids
     * ({@code padding="max_length", truncation=True}).
     */
    public long[] encodePadded(String text) {
        return encodePadded(text, maxLength);
    }

    /**
     * Exactly {@code length} ids, as {@link #encodePadded(String)} with {@code max_length=length} (kohya tokenizes
     * long prompts to 152 or 227 ids this way before cutting them into chunks).
     */
    public long[] encodePadded(String text, int length) {
        if (length < 2) throw new IllegalArgumentException("padded length " + length + " has no room for BOS and EOS");
        int[] full = encode(text);
        long[] ids = new long[length];
        int real = Math.min(full.length, length);
        for (int i = 0; i < real - 1; i++) {
            ids[i] = full[i];
        }
        ids[real - 1] = eosId;
        Arrays.fill(ids, real, length, padId);
        return ids;
    }

    /** {@link #encodePadded} for each text: a [texts.size(), maxLength] batch. */
    public long[][] encodeBatch(List<String> texts) {
        return texts.stream().map(this::encodePadded).toArray(long[][]::new);
    }

    /** Attention mask matching {@link #encodePadded}: 1 for BOS, kept tokens and EOS, 0 for padding. */
    public long[] attentionMask(String text) {
        long[] mask = new long[maxLength];
        Arrays.fill(mask, 0, realLength(encode(text).length), 1L);
        return mask;
    }

    /** {@link #attentionMask} for each text. */
    public long[][] attentionMasks(List<String> texts) {
        return texts.stream().map(this::attentionMask).toArray(long[][]::new);
    }

    /** BPE token strings (byte alphabet, {@code </w>} marks word ends), without BOS/EOS. */
    public List<String> tokens(String text) {
        List<String> out = new ArrayList<>();
        for (Piece p : pieces(text)) {
            out.addAll(Arrays.asList(p.tokens));
        }
        return out;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    public int padId() {
        return padId;
    }

    /** model_max_length from tokenizer_config.json (77 for SD). */
    public int maxLength() {
        return maxLength;
    }

    /** Entries in vocab.json (transformers' {@code vocab_size}; special tokens appended beyond it not counted). */
    public int vocabSize() {
        return vocab.size();
    }

    private int realLength(int untruncatedLength) {
        return Math.min(untruncatedLength, maxLength);
    }

    private List<Piece> pieces(String text) {
        List<Piece> out = new ArrayList<>();
        int chunkStart = 0;
        int i = 0;
        while (i < text.length()) {
            String special = specialAt(text, i);
            if (special == null) {
                i++;
                continue;
            }
            bpeChunk(text.substring(chunkStart, i), out);
            out.add(new Piece(new String[] {special}, new int[] {specialTokens.get(special)}));
            i += special.length();
            chunkStart = i;
        }
        bpeChunk(text.substring(chunkStart), out);
        return out;
    }

    private String specialAt(String text, int pos) {
        for (String token : specialTokens.keySet()) {
            if (text.startsWith(token, pos)) {
                return token;
            }
        }
        return null;
    }

    /** transformers' CLIPTokenizer._tokenize on text containing no special token. */
    private void bpeChunk(String chunk, List<Piece> out) {
        String text = TextFixer.fixText(chunk);
        text = WHITESPACE.matcher(text).replaceAll(" ");
        text = stripSpaces(text).toLowerCase(Locale.ROOT);
        Matcher m = WORD.matcher(text);
        while (m.find()) {
            out.add(cache.computeIfAbsent(byteEncode(m.group()), this::bpe));
        }
    }

    /** After whitespace collapsing only single ASCII spaces can sit at the ends. */
    private static String stripSpaces(String text) {
        int start = text.startsWith(" ") ? 1 : 0;
        int end = text.length() > start && text.endsWith(" ") ? text.length() - 1 : text.length();
        return text.substring(start, end);
    }

    private static String byteEncode(String word) {
        StringBuilder sb = new StringBuilder(word.length() * 2);
        for (byte b : word.getBytes(StandardCharsets.UTF_8)) {
            sb.append(BYTE_TO_CHAR[b & 0xff]);
        }
        return sb.toString();
    }

    /** Byte-pair merging of one word: repeatedly merge every occurrence of the lowest-ranked pair. */
    private Piece bpe(String word) {
        List<String> symbols = new ArrayList<>(word.length());
        for (int i = 0; i < word.length() - 1; i++) {
            symbols.add(String.valueOf(word.charAt(i)));
        }
        symbols.add(word.charAt(word.length() - 1) + END_OF_WORD);

        while (symbols.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            String bestFirst = null;
            String bestSecond = null;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                Integer rank = mergeRanks.get(symbols.get(i) + " " + symbols.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    bestFirst = symbols.get(i);
                    bestSecond = symbols.get(i + 1);
                }
            }
            if (bestFirst == null) {
                break;
            }
            List<String> merged = new ArrayList<>(symbols.size());
            for (int i = 0; i < symbols.size(); i++) {
                if (i + 1 < symbols.size() && symbols.get(i).equals(bestFirst) && symbols.get(i + 1).equals(bestSecond)) {
                    merged.add(bestFirst + bestSecond);
                    i++;
                } else {
                    merged.add(symbols.get(i));
                }
            }
            symbols = merged;
        }
        String[] tokens = symbols.toArray(String[]::new);
        int[] ids = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            ids[i] = idOf(tokens[i]);
        }
        return new Piece(tokens, ids);
    }

    private int idOf(String token) {
        return vocab.getOrDefault(token, unkId);
    }

    /**
     * GPT-2/CLIP's reversible byte-to-character table: printable Latin-1 bytes map to themselves, the
     * rest to code points from 256 upwards in byte order, so BPE never sees whitespace or control bytes.
     */
    private static String[] byteAlphabet() {
        String[] table = new String[256];
        int next = 256;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
            table[b] = String.valueOf((char) (printable ? b : next++));
        }
        return table;
    }

    /** vocab.json streamed (a tree of 49k nodes would cost several times as long). */
    private static Map<String, Integer> readVocab(ObjectMapper json, Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + ": tokenizer file missing");
        }
        Map<String, Integer> vocab = new HashMap<>(100_000);
        try (JsonParser p = json.getFactory().createParser(file.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException(file + ": expected a JSON object of token -> id");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String token = p.currentName();
                if (p.nextToken() != JsonToken.VALUE_NUMBER_INT) {
                    throw new IOException(file + ": id of token " + quote(token) + " is not an integer: " + p.getText());
                }
                vocab.put(token, p.getIntValue());
            }
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": invalid JSON: " + e.getOriginalMessage(), e);
        }
        return vocab;
    }

    /** Ranks of merges.txt's pairs; the first line (the "#version" header) is skipped, like transformers. */
    private static Map<String, Integer> readMerges(Path file) throws IOException {
        String[] lines = Files.readString(file, StandardCharsets.UTF_8).strip().split("\n");
        int count = Math.min(lines.length - 1, MAX_MERGES);
        Map<String, Integer> ranks = new HashMap<>(count * 2);
        for (int i = 0; i < count; i++) {
            String[] pair = MERGE_FIELDS.split(lines[i + 1].trim());
            if (pair.length != 2) {
                throw new IOException(file + ": line " + (i + 2) + " is not a pair of symbols: " + quote(lines[i + 1]));
            }
            ranks.put(pair[0] + " " + pair[1], i);
        }
        return ranks;
    }

    private static JsonNode readJson(ObjectMapper json, Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IOException(file + ": tokenizer file missing");
        }
        try {
            JsonNode root = json.readTree(file.toFile());
            if (root == null || !root.isObject()) {
                throw new IOException(file + ": expected a JSON object");
            }
            return root;
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": invalid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** A special token written either as a string or as an AddedToken object {"content": ...}. */
    private static String tokenText(JsonNode node, Path file, String key) throws IOException {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isObject() && node.path("content").isTextual()) {
            return node.get("content").asText();
        }
        throw new IOException(file + ": " + key + " must be a string or an object with \"content\", got " + node);
    }

    private static String quote(String s) {
        return "\"" + s + "\"";
    }
}

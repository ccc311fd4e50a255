package sdtrainer.preprocess;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import sdtrainer.io.AtomicFiles;

/**
 * Danbooru metadata → caption, as the original {@code caption_preprocessor.py}: metatags (score,
 * rating, highres/absurdres/lowres, deleted), characters and their parenthesised qualifiers,
 * copyright, artist, then general tags; parenthesised parts removed, {@code _} → space, comma-separated.
 * The original went through Python sets; here the order is first-seen and a tag is written once even when
 * two sections hold it (a character that is also a general tag).
 */
public final class Caption {
    private static final Pattern PARENTHESISED = Pattern.compile("\\([^)]*\\)");
    private static final Pattern QUALIFIER = Pattern.compile("(?<=\\().+?(?=\\))");
    private static final Pattern WHITESPACE = Pattern.compile("\\s+");
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The wd14 tagger that wrote the original's metadata left this quoted tag inside quoted strings. */
    private static final String LAZY_QUIRK = "\"lazy\"";
    /** The fields a caption is built from; metadata with none of them is not danbooru metadata. */
    private static final List<String> DANBOORU_FIELDS = List.of("score", "rating", "tag_string_meta", "is_deleted",
            "tag_string_character", "tag_string_copyright", "tag_string_artist", "tag_string_general", "tagger");

    private Caption() {}

    /**
     * @param useOriginTag general tags from danbooru's {@code tag_string_general} instead of the {@code tagger} field
     * @param excludeTags tags never written, in danbooru ({@code long_hair}, {@code astolfo_(fate)}) or caption
     *     ({@code long hair}, {@code astolfo}) spelling; an excluded character takes its qualifiers with it
     */
    public record Options(boolean useOriginTag, Set<String> excludeTags) {
        public Options {
            Set<String> spaced = new LinkedHashSet<>();
            for (String tag : excludeTags) {
                if (!tag.isBlank()) {
                    spaced.add(tag.strip().replace('_', ' '));
                }
            }
            excludeTags = Set.copyOf(spaced);
        }
    }

    /** Builds the caption text for one image's metadata. */
    public static String caption(Map<?, ?> meta, Options options) {
        Tags tags = new Tags(options.excludeTags());
        metatags(meta, tags);
        String characters = field(meta, "tag_string_character");
        if (characters != null) {
            List<String> qualifiers = new ArrayList<>();
            for (String raw : split(characters)) {
                if (tags.addDanbooru(raw)) {
                    Matcher m = QUALIFIER.matcher(raw);
                    while (m.find()) {
                        qualifiers.add(m.group());
                    }
                }
            }
            // The series or costume in a character's name, "astolfo_(fate)" → "fate", follows the names.
            qualifiers.forEach(tags::addDanbooru);
        }
        addAll(tags, field(meta, "tag_string_copyright"));
        addAll(tags, field(meta, "tag_string_artist"));
        addAll(tags, field(meta, options.useOriginTag() ? "tag_string_general" : "tagger"));
        return String.join(", ", tags.ordered);
    }

    private static void metatags(Map<?, ?> meta, Tags tags) {
        if (meta.containsKey("score")) {
            double score = number(meta.get("score"), "score");
            if (score > 150) {
                tags.add("masterpiece");
            } else if (score > 100) {
                tags.add("best quality");
            } else if (score > 75) {
                tags.add("high quality");
            } else if (score > 25) {
                tags.add("medium quality");
            } else if (score < -5) {
                tags.add("worst quality");
            } else if (score < 0) {
                tags.add("low quality");
            }
        }
        if (meta.containsKey("rating")) {
            Object rating = meta.get("rating");
            tags.add("g".equals(rating) ? "safe" : "s".equals(rating) ? "questionable" : "nsfw");
        }
        String metaTags = field(meta, "tag_string_meta");
        if (metaTags != null) {
            List<String> present = split(metaTags);
            for (String resolution : List.of("highres", "absurdres", "lowres")) {
                if (present.contains(resolution)) {
                    tags.add(resolution);
                }
            }
        }
        Object deleted = meta.get("is_deleted");
        // The original compared with the string "True"; danbooru's JSON has a boolean.
        if (Boolean.TRUE.equals(deleted) || "True".equals(deleted) || "true".equals(deleted)) {
            tags.add("deleted");
        }
    }

    private static void addAll(Tags tags, String field) {
        if (field != null) {
            split(field).forEach(tags::addDanbooru);
        }
    }

    private static String field(Map<?, ?> meta, String key) {
        Object value = meta.get(key);
        if (value == null) {
            return null;
        }
        if (!(value instanceof String s)) {
            throw new IllegalArgumentException("field '" + key + "' is not a string of tags: " + value);
        }
        return s;
    }

    private static double number(Object value, String key) {
        if (value instanceof Number n) {
            return n.doubleValue();
        }
        if (value instanceof String s) {
            try {
                return Double.parseDouble(s.trim());
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        throw new IllegalArgumentException("field '" + key + "' is not a number: " + value);
    }

    private static List<String> split(String tagString) {
        String trimmed = tagString.strip();
        return trimmed.isEmpty() ? List.of() : List.of(WHITESPACE.split(trimmed));
    }

    /** Danbooru spelling → caption spelling: parenthesised parts dropped, outer {@code _} stripped, {@code _} → space. */
    static String normalise(String tag) {
        String bare = PARENTHESISED.matcher(tag).replaceAll("");
        int start = 0;
        int end = bare.length();
        while (start < end && bare.charAt(start) == '_') {
            start++;
        }
        while (end > start && bare.charAt(end - 1) == '_') {
            end--;
        }
        return bare.substring(start, end).replace('_', ' ').strip();
    }

    /** The caption's tags in first-seen order, without duplicates or excluded tags. */
    private static final class Tags {
        final Set<String> ordered = new LinkedHashSet<>();
        private final Set<String> exclude;

        Tags(Set<String> exclude) {
            this.exclude = exclude;
        }

        /** Adds a tag in danbooru spelling; false when it is excluded in either spelling. */
        boolean addDanbooru(String raw) {
            return !exclude.contains(raw.replace('_', ' ')) && add(normalise(raw));
        }

        /** Adds a tag in caption spelling; false when it is excluded. */
        boolean add(String tag) {
            if (exclude.contains(tag)) {
                return false;
            }
            if (!tag.isEmpty()) {
                ordered.add(tag);
            }
            return true;
        }
    }

    /**
     * Reads metadata text: JSON, or the Python dict text the original read with {@code ast.literal_eval}
     * (after the same {@code "lazy"} repair).
     *
     * @throws IllegalArgumentException when the text is neither, or is not a dict
     */
    public static Map<?, ?> parseMetadata(String text) {
        Object value;
        try {
            value = JSON.readValue(text, Object.class);
        } catch (JsonProcessingException notJson) {
            value = PythonLiteral.parse(text.replace(LAZY_QUIRK, "lazy"));
        }
        if (!(value instanceof Map<?, ?> map)) {
            throw new IllegalArgumentException("metadata is not a dict/object");
        }
        return map;
    }

    /** Tags to exclude from a file: one per line or comma-separated; blank lines and {@code #} comments ignored. */
    public static Set<String> readExcludeTags(Path file) throws IOException {
        Set<String> tags = new LinkedHashSet<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.strip().startsWith("#")) {
                continue;
            }
            for (String tag : line.split(",")) {
                if (!tag.isBlank()) {
                    tags.add(tag.strip());
                }
            }
        }
        return tags;
    }

    /** Where an image's metadata is: {@code <stem>.json}, else {@code <stem>.txt}; null when neither exists. */
    static Path metadataFile(Path image) {
        String stem = Bucketing.stem(image);
        for (String ext : List.of(".json", ".txt")) {
            Path candidate = image.resolveSibling(stem + ext);
            if (Files.isRegularFile(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    /**
     * The metadata file of every stem in {@code dataset}: {@code <stem>.json}, else {@code <stem>.txt}, whether or
     * not an image has the stem (as the original, which captioned every metadata file it found).
     */
    static List<Path> metadataFiles(Path dataset) throws IOException {
        Map<String, Path> byStem = new TreeMap<>();
        try (Stream<Path> listing = Files.list(dataset)) {
            for (Path file : listing.filter(Files::isRegularFile).toList()) {
                String name = file.getFileName().toString();
                if (name.endsWith(".json")) {
                    byStem.put(Bucketing.stem(file), file);
                } else if (name.endsWith(".txt")) {
                    byStem.putIfAbsent(Bucketing.stem(file), file);
                }
            }
        }
        return List.copyOf(byStem.values());
    }

    /**
     * Writes {@code <stem>.caption} beside every metadata file of {@code dataset} (see {@link #metadataFiles}).
     * A file that is not danbooru metadata (plain text, or a dict without any field a caption is built from) is
     * reported by name and skipped; metadata that looks like a dict but cannot be parsed, or has a field of the
     * wrong type, fails.
     */
    public static Progress.Summary run(Path dataset, Options options, int threads, Progress progress)
            throws IOException, InterruptedException {
        ParallelJobs.run(metadataFiles(dataset), threads, progress, p -> p.getFileName().toString(), metaFile -> {
            String text = Files.readString(metaFile, StandardCharsets.UTF_8);
            Map<?, ?> meta;
            try {
                meta = parseMetadata(text);
            } catch (IllegalArgumentException e) {
                if (!text.strip().startsWith("{")) {
                    progress.note(metaFile + ": not danbooru metadata (not a dict); no caption written");
                    return ParallelJobs.Outcome.skipped(null);
                }
                throw new IOException(metaFile + ": " + e.getMessage(), e);
            }
            if (DANBOORU_FIELDS.stream().noneMatch(meta::containsKey)) {
                progress.note(metaFile + ": not danbooru metadata (none of " + String.join(", ", DANBOORU_FIELDS)
                        + "); no caption written");
                return ParallelJobs.Outcome.skipped(null);
            }
            String caption;
            try {
                caption = caption(meta, options);
            } catch (IllegalArgumentException e) {
                throw new IOException(metaFile + ": " + e.getMessage(), e);
            }
            AtomicFiles.writeString(metaFile.resolveSibling(Bucketing.stem(metaFile) + ".caption"), caption);
            return ParallelJobs.Outcome.processed(null);
        });
        return progress.finish();
    }
}

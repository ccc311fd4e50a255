package sdtrainer.pipeline;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.toml.TomlMapper;
import sdtrainer.diffusion.Samplers;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads kohya sd-scripts' sample-prompt files. Text: one prompt per line, blank lines and lines starting with
 * {@code #} skipped, options after the prompt as {@code --n negative --w W --h H --s steps --l cfg_scale --d seed
 * --ss sampler}. TOML ({@code [prompt]} defaults with {@code [[prompt.subset]]} entries, as kohya) or JSON (a
 * list of objects, or that same shape) with kohya's keys {@code prompt, negative_prompt, width, height,
 * sample_steps, scale, seed, sample_sampler} or the short flag names. Unlike kohya, an unknown flag or key or a
 * malformed value is an error naming the file and line (or entry), not a message that is easy to miss.
 */
public final class SamplePromptFile {

    /** A flag's name, its value, as kohya's line_to_prompt_dict splits them. */
    private static final Pattern FLAG = Pattern.compile("(?s)(\\S+)\\s+(.*)");
    /** The per-line flags and the keys they set. */
    private static final Map<String, String> FLAGS = Map.of("n", "negative_prompt", "w", "width", "h", "height",
            "s", "sample_steps", "l", "scale", "d", "seed", "ss", "sample_sampler");
    private static final java.util.Set<String> KEYS = java.util.Set.of("prompt", "negative_prompt", "width", "height",
            "sample_steps", "scale", "seed", "sample_sampler");
    /** kohya clamps steps to this range. */
    private static final int MAX_STEPS = 1000;

    private SamplePromptFile() {}

    /** Every prompt of {@code file}; the format follows the extension (.toml, .json, else text). */
    public static List<SamplePrompt> read(Path file) throws IOException {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        String text = Files.readString(file, StandardCharsets.UTF_8);
        List<SamplePrompt> prompts;
        if (name.endsWith(".toml")) prompts = structured(file, parse(file, new TomlMapper(), text));
        else if (name.endsWith(".json")) prompts = structured(file, parse(file, new ObjectMapper(), text));
        else prompts = lines(file, text);
        if (prompts.isEmpty()) throw new IllegalArgumentException(file + ": no prompts (only blank or # comment lines)");
        return prompts;
    }

    private static List<SamplePrompt> lines(Path file, String text) {
        List<SamplePrompt> out = new ArrayList<>();
        String[] lines = text.split("\\R", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String source = file + ":" + (i + 1);
            String[] parts = line.split(" --");
            Entry e = new Entry(source);
            e.set("prompt", parts[0].strip());
            for (int p = 1; p < parts.length; p++) {
                Matcher m = FLAG.matcher(parts[p].strip());
                if (!m.matches()) throw e.problem("--" + parts[p].strip() + " has no value");
                String key = FLAGS.get(m.group(1).toLowerCase(Locale.ROOT));
                if (key == null) {
                    throw e.problem("unknown flag --" + m.group(1) + "; known: --n --w --h --s --l --d --ss");
                }
                e.set(key, m.group(2).strip());
            }
            out.add(e.build(out.size()));
        }
        return out;
    }

    private static JsonNode parse(Path file, ObjectMapper mapper, String text) {
        try {
            return mapper.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " at line " + e.getLocation().getLineNr() : ""));
        }
    }

    /** A list of entries, or kohya's {@code prompt} table of defaults with a {@code subset} list. */
    private static List<SamplePrompt> structured(Path file, JsonNode root) {
        List<JsonNode> entries = new ArrayList<>();
        if (root != null && root.isArray()) {
            root.forEach(entries::add);
        } else if (root != null && root.path("prompt").isObject() && root.path("prompt").path("subset").isArray()) {
            ObjectNode base = ((ObjectNode) root.get("prompt")).deepCopy();
            base.remove("subset");
            for (JsonNode subset : root.get("prompt").get("subset")) {
                if (!subset.isObject()) throw new IllegalArgumentException(file + ": every prompt.subset entry must be a table");
                entries.add(base.deepCopy().setAll((ObjectNode) subset));
            }
        } else {
            throw new IllegalArgumentException(file + ": expected a list of prompt entries, or a [prompt] table with"
                    + " [[prompt.subset]] entries");
        }
        List<SamplePrompt> out = new ArrayList<>();
        for (JsonNode node : entries) {
            Entry e = new Entry(file + "#" + (out.size() + 1));
            if (!node.isObject()) throw e.problem("expected an object with a prompt, got " + node);
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                String key = KEYS.contains(f.getKey()) ? f.getKey() : FLAGS.get(f.getKey());
                if (key == null) {
                    throw e.problem("unknown key '" + f.getKey() + "'; known: " + String.join(", ", new java.util.TreeSet<>(KEYS))
                            + " (or the flags n, w, h, s, l, d, ss)");
                }
                if (!f.getValue().isValueNode()) throw e.problem("'" + f.getKey() + "' must be a text or a number");
                e.set(key, f.getValue().asText());
            }
            out.add(e.build(out.size()));
        }
        return out;
    }

    /** One prompt's values as text while they are read, checked when built. */
    private static final class Entry {
        private final String source;
        private final Map<String, String> values = new java.util.HashMap<>();

        Entry(String source) {
            this.source = source;
        }

        void set(String key, String value) {
            values.put(key, value);
        }

        IllegalArgumentException problem(String what) {
            return new IllegalArgumentException(source + ": " + what);
        }

        SamplePrompt build(int index) {
            String prompt = values.get("prompt");
            if (prompt == null || prompt.isBlank()) throw problem("no prompt text");
            Integer steps = integer("sample_steps", "--s");
            String sampler = values.get("sample_sampler");
            if (sampler != null) {
                try {
                    sampler = Samplers.canonical(sampler);
                } catch (IllegalArgumentException e) {
                    throw problem(e.getMessage());
                }
            }
            return new SamplePrompt(prompt, values.get("negative_prompt"), positive("width", "--w"),
                    positive("height", "--h"), steps == null ? null : Math.max(1, Math.min(MAX_STEPS, steps)),
                    scale(), seed(), sampler, source, index);
        }

        private Integer integer(String key, String flag) {
            String v = values.get(key);
            if (v == null) return null;
            try {
                return Integer.parseInt(v);
            } catch (NumberFormatException e) {
                throw problem(flag + " '" + v + "' is not a whole number");
            }
        }

        private Integer positive(String key, String flag) {
            Integer v = integer(key, flag);
            if (v != null && v < 1) throw problem(flag + " " + v + " must be at least 1");
            return v;
        }

        private Float scale() {
            String v = values.get("scale");
            if (v == null) return null;
            try {
                float f = Float.parseFloat(v);
                if (!Float.isFinite(f) || f < 0) throw problem("--l " + v + " must be a finite number >= 0");
                return f;
            } catch (NumberFormatException e) {
                throw problem("--l '" + v + "' is not a number");
            }
        }

        private Long seed() {
            String v = values.get("seed");
            if (v == null) return null;
            try {
                return Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw problem("--d '" + v + "' is not a whole number");
            }
        }
    }
}

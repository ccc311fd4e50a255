package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonSetter;
import com.fasterxml.jackson.annotation.Nulls;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.MapperBuilder;
import com.fasterxml.jackson.databind.deser.std.FromStringDeserializer;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Reads {@link TrainConfig} from YAML or JSON files (same keys as the command-line options), merges
 * command-line values over it, and writes it back as YAML.
 */
public final class ConfigLoader {

    private static final ObjectMapper JSON = configure(JsonMapper.builder()).build();
    private static final ObjectMapper YAML = configure(YAMLMapper.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)).build();

    private ConfigLoader() {
    }

    private static <M extends ObjectMapper, B extends MapperBuilder<M, B>> B configure(B builder) {
        SimpleModule paths = new SimpleModule("plain-paths")
                // Jackson's own Path support writes file:// URIs; configs hold plain paths.
                .addSerializer(Path.class, ToStringSerializer.instance)
                .addDeserializer(Path.class, new FromStringDeserializer<>(Path.class) {
                    @Override
                    protected Path _deserialize(String value, DeserializationContext ctxt) {
                        return Path.of(value);
                    }
                });
        return builder.addModule(paths)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                // 4.5 for batch_size is a mistake, not 4.
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_ENUMS)
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                // "key:" with no value (null) keeps the default, as if the key were absent.
                .defaultSetterInfo(JsonSetter.Value.forValueNulls(Nulls.SKIP));
    }

    /**
     * Reads a config file: {@code .json} as JSON, anything else as YAML. An empty file gives the defaults.
     *
     * @throws ConfigException naming the file, the line and the defect: a missing file, a syntax error,
     *     an unknown key (with the closest known one), or a value of the wrong type
     */
    public static TrainConfig load(Path file) throws ConfigException {
        String where = "--config " + file;
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(where + ": no such file; give the path of a YAML or JSON config");
        } catch (IOException e) {
            throw new ConfigException(where + ": cannot read it (" + e.getMessage() + ")");
        }
        if (text.isBlank()) {
            return new TrainConfig();
        }
        boolean json = file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json");
        try {
            return (json ? JSON : YAML).readValue(text, TrainConfig.class);
        } catch (UnrecognizedPropertyException e) {
            throw new ConfigException(where + line(e.getLocation()) + ": unknown key '" + e.getPropertyName() + "'"
                    + KohyaNames.ours(e.getPropertyName()).map(ours -> "; that is the name in kohya's sd-scripts, here it is '"
                            + ours + "'").orElseGet(() -> suggestion(e.getPropertyName(), e.getKnownPropertyIds())));
        } catch (InvalidFormatException e) {
            throw new ConfigException(where + line(e.getLocation()) + ": " + key(e) + ": '" + e.getValue()
                    + "' is not " + expected(e.getTargetType()));
        } catch (MismatchedInputException e) {
            if (e.getPath().isEmpty()) {
                throw new ConfigException(where + ": expected a mapping of option names to values, e.g. 'batch_size: 4'");
            }
            throw new ConfigException(where + line(e.getLocation()) + ": " + key(e) + ": expected " + expected(e.getTargetType()));
        } catch (JsonMappingException e) {
            throw new ConfigException(where + line(e.getLocation()) + ": " + key(e) + ": " + rootCause(e));
        } catch (JsonProcessingException e) {
            throw new ConfigException(where + line(e.getLocation()) + ": not valid " + (json ? "JSON" : "YAML")
                    + ": " + firstLine(e.getOriginalMessage()));
        }
    }

    /**
     * A copy of {@code base} with some keys replaced; values are what the options' types hold
     * (numbers, booleans, enums, paths, strings).
     *
     * @throws IllegalArgumentException for a key that is not a config key
     */
    public static TrainConfig merge(TrainConfig base, Map<String, ?> overrides) {
        ObjectNode tree = JSON.valueToTree(base);
        tree.setAll((ObjectNode) JSON.valueToTree(overrides));
        try {
            return JSON.treeToValue(tree, TrainConfig.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot merge " + overrides.keySet() + ": " + e.getOriginalMessage(), e);
        }
    }

    /** The config as YAML, one key per line, unset optional values left out; {@link #load} reads it back. */
    public static String toYaml(TrainConfig config) {
        try {
            return YAML.writeValueAsString(config);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String line(JsonLocation location) {
        return location == null || location.getLineNr() < 1 ? "" : ": line " + location.getLineNr();
    }

    private static String key(JsonMappingException e) {
        return e.getPath().stream()
                .map(ref -> ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]")
                .collect(Collectors.joining("."));
    }

    private static String expected(Class<?> type) {
        if (type == null) {
            return "a different kind of value";
        }
        if (type.isEnum()) {
            return "one of " + Arrays.stream(type.getEnumConstants()).map(String::valueOf).collect(Collectors.joining(", "));
        }
        if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
            return "a whole number";
        }
        if (type == double.class || type == Double.class) {
            return "a number";
        }
        if (type == boolean.class || type == Boolean.class) {
            return "true or false";
        }
        return "a single value";
    }

    private static String rootCause(Throwable e) {
        Throwable cause = e;
        while (cause.getCause() != null) {
            cause = cause.getCause();
        }
        return firstLine(cause instanceof JsonProcessingException jpe ? jpe.getOriginalMessage() : cause.getMessage());
    }

    private static String firstLine(String message) {
        if (message == null) {
            return "unreadable";
        }
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }

    /** "; did you mean 'batch_size'?" when a known key is within a few edits of the unknown one. */
    private static String suggestion(String unknown, Collection<Object> known) {
        return known.stream()
                .map(String::valueOf)
                .min(Comparator.comparingInt(candidate -> editDistance(unknown, candidate)))
                .filter(best -> editDistance(unknown, best) <= Math.max(2, unknown.length() / 3))
                .map(best -> "; did you mean '" + best + "'?")
                .orElse("");
    }

    private static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitute = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitute, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}

package sdtrainer.io;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Typed reads of a model config.json's fields. A value of the wrong type is named, not read as a default:
 * Jackson's lenient {@code asInt()} turns {@code "two"} into 0 and {@code "32,64"} into an empty list.
 * An absent or null field takes the given default.
 */
public final class ConfigFields {
    private ConfigFields() {}

    public static int integer(JsonNode c, String key, int absent) {
        JsonNode v = c.get(key);
        return v == null || v.isNull() ? absent : integer(key, v);
    }

    public static double number(JsonNode c, String key, double absent) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return absent;
        if (!v.isNumber()) throw wrong(key, v, "a number");
        return v.doubleValue();
    }

    public static boolean flag(JsonNode c, String key, boolean absent) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return absent;
        if (!v.isBoolean()) throw wrong(key, v, "true or false");
        return v.booleanValue();
    }

    public static String text(JsonNode c, String key, String absent) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) return absent;
        if (!v.isTextual()) throw wrong(key, v, "a string");
        return v.textValue();
    }

    /** A required list of integers. */
    public static List<Integer> integers(JsonNode c, String key) {
        List<Integer> out = new ArrayList<>();
        for (JsonNode v : list(c, key, "a list of integers")) out.add(integer(key, v));
        return out;
    }

    /** A required list of strings. */
    public static List<String> texts(JsonNode c, String key) {
        List<String> out = new ArrayList<>();
        for (JsonNode v : list(c, key, "a list of strings")) {
            if (!v.isTextual()) throw wrong(key, c.get(key), "a list of strings");
            out.add(v.textValue());
        }
        return out;
    }

    /** One integer per block: a list of at least {@code count}, or one integer for every block (as diffusers broadcasts). */
    public static List<Integer> perBlock(JsonNode c, String key, int count, int absent) {
        JsonNode v = c.get(key);
        if (v == null || !v.isArray()) return Collections.nCopies(count, integer(c, key, absent));
        if (v.size() < count) throw wrong(key, v, "one integer for each of the " + count + " blocks");
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < count; i++) out.add(integer(key, v.get(i)));
        return out;
    }

    private static JsonNode list(JsonNode c, String key, String expected) {
        JsonNode v = c.get(key);
        if (v == null || v.isNull()) throw new IllegalArgumentException("'" + key + "' is missing, expected " + expected);
        if (!v.isArray()) throw wrong(key, v, expected);
        return v;
    }

    private static int integer(String key, JsonNode v) {
        if (!v.isNumber() || !v.canConvertToExactIntegral() || !v.canConvertToInt()) throw wrong(key, v, "an integer");
        return v.intValue();
    }

    private static IllegalArgumentException wrong(String key, JsonNode v, String expected) {
        return new IllegalArgumentException("'" + key + "' is " + v + ", expected " + expected);
    }
}

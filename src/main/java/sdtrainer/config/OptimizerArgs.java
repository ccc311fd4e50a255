package sdtrainer.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * {@code --optimizer_args "key=value,..."} as kohya passes them: numbers, True/False, None, and pairs such as
 * {@code betas=0.9,0.999} (a piece without {@code =} continues the previous value; parentheses are allowed).
 * Typed getters read a value or the given default.
 */
public record OptimizerArgs(Map<String, String> values) {

    /** What a value must be. */
    public enum Kind {
        NUMBER("a number"),
        NON_NEGATIVE("a number >= 0"),
        POSITIVE("a number > 0"),
        FRACTION("a number in [0, 1)"),
        FRACTION_OR_NONE("a number in [0, 1) or None"),
        COUNT("a whole number >= 0"),
        FLAG("True or False"),
        BETAS("two numbers in [0, 1), e.g. 0.9,0.999"),
        EPS_PAIR("two numbers >= 0, e.g. 1e-30,1e-3");

        private final String description;

        Kind(String description) {
            this.description = description;
        }
    }

    public static final OptimizerArgs NONE = new OptimizerArgs(Map.of());

    public OptimizerArgs {
        values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** Parses the text; an empty text has no arguments. */
    public static OptimizerArgs parse(String text) {
        Map<String, String> values = new LinkedHashMap<>();
        String last = null;
        for (String piece : CommaList.split(text)) {
            int eq = piece.indexOf('=');
            if (eq < 0) {
                if (last == null || piece.isEmpty()) {
                    throw new IllegalArgumentException("'" + piece + "' is not key=value; give e.g. weight_decay=0.01,betas=0.9,0.999");
                }
                values.put(last, values.get(last) + "," + piece);
                continue;
            }
            String key = piece.substring(0, eq).strip();
            if (key.isEmpty() || piece.substring(eq + 1).isBlank()) {
                throw new IllegalArgumentException("'" + piece + "' is not key=value; give e.g. weight_decay=0.01");
            }
            if (values.put(key, piece.substring(eq + 1).strip()) != null) {
                throw new IllegalArgumentException("'" + key + "' is given twice");
            }
            last = key;
        }
        return new OptimizerArgs(values);
    }

    /** The problems of these arguments for {@code type}: unknown keys and values of the wrong kind. */
    public List<String> problems(OptimizerType type) {
        List<String> problems = new ArrayList<>();
        for (String key : values.keySet()) {
            Kind kind = type.args().get(key);
            if (kind == null) {
                problems.add("'" + key + "' is not an argument of " + type + "; it takes " + String.join(", ",
                        new TreeSet<>(type.args().keySet())));
                continue;
            }
            try {
                check(key, kind);
            } catch (IllegalArgumentException e) {
                problems.add(e.getMessage());
            }
        }
        if (problems.isEmpty()) crossChecks(type, problems);
        return problems;
    }

    private void crossChecks(OptimizerType type, List<String> problems) {
        if (type == OptimizerType.SGD && flag("nesterov", false)
                && (number("momentum", 0) <= 0 || number("dampening", 0) != 0)) {
            problems.add("nesterov=True needs momentum > 0 and dampening 0");
        }
        if (type == OptimizerType.ADAFACTOR && flag("warmup_init", false) && !flag("relative_step", true)) {
            problems.add("warmup_init=True needs relative_step=True");
        }
    }

    private void check(String key, Kind kind) {
        switch (kind) {
            case NUMBER -> number(key, 0);
            case NON_NEGATIVE -> require(key, kind, number(key, 0) >= 0);
            case POSITIVE -> require(key, kind, number(key, 1) > 0);
            case FRACTION -> require(key, kind, fraction(number(key, 0)));
            case FRACTION_OR_NONE -> require(key, kind, isNone(key) || fraction(number(key, 0)));
            case COUNT -> integer(key, 0);
            case FLAG -> flag(key, false);
            case BETAS -> {
                double[] b = pair(key, null);
                require(key, kind, fraction(b[0]) && fraction(b[1]));
            }
            case EPS_PAIR -> {
                double[] e = pair(key, null);
                require(key, kind, e[0] >= 0 && e[1] >= 0);
            }
        }
    }

    private static boolean fraction(double v) {
        return v >= 0 && v < 1;
    }

    private void require(String key, Kind kind, boolean ok) {
        if (!ok) throw wrong(key, kind);
    }

    private IllegalArgumentException wrong(String key, Kind kind) {
        return new IllegalArgumentException(key + "=" + values.get(key) + " must be " + kind.description);
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    /** True when the value is Python's None. */
    public boolean isNone(String key) {
        return "none".equals(unwrapped(key).toLowerCase(Locale.ROOT));
    }

    public double number(String key, double otherwise) {
        if (!has(key)) return otherwise;
        try {
            double v = Double.parseDouble(unwrapped(key));
            if (Double.isNaN(v)) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + "=" + values.get(key) + " is not a number");
        }
    }

    public int integer(String key, int otherwise) {
        if (!has(key)) return otherwise;
        try {
            int v = Integer.parseInt(unwrapped(key));
            if (v < 0) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw wrong(key, Kind.COUNT);
        }
    }

    public boolean flag(String key, boolean otherwise) {
        if (!has(key)) return otherwise;
        return switch (unwrapped(key).toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw wrong(key, Kind.FLAG);
        };
    }

    /** Two numbers, e.g. betas. */
    public double[] pair(String key, double[] otherwise) {
        if (!has(key)) return otherwise;
        String[] parts = CommaList.split(unwrapped(key));
        if (parts.length != 2) throw new IllegalArgumentException(key + "=" + values.get(key) + " must be two numbers, e.g. 0.9,0.999");
        double[] out = new double[2];
        for (int i = 0; i < 2; i++) {
            out[i] = CommaList.parseNumber(parts[i], "give " + key + " as two numbers, e.g. 0.9,0.999");
        }
        return out;
    }

    private String unwrapped(String key) {
        String v = values.get(key).strip();
        if (v.startsWith("(") && v.endsWith(")") || v.startsWith("[") && v.endsWith("]")) v = v.substring(1, v.length() - 1);
        return v.strip();
    }

    @Override
    public String toString() {
        List<String> parts = new ArrayList<>();
        values.forEach((k, v) -> parts.add(k + "=" + v));
        return String.join(",", parts);
    }
}

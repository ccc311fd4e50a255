package sdtrainer.network;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The {@code ss_*} metadata kohya sd-scripts writes into network files, which A1111's and other tools' LoRA
 * browsers read. All values are strings spelled as Python's {@code str()} spells them ({@code True},
 * {@code 0.0001}, {@code 1e-05}, {@code (512, 512)}), since kohya stringifies its Python values.
 */
public final class KohyaMetadata {
    private final Map<String, String> values = new LinkedHashMap<>();

    public KohyaMetadata network(String module, int dim, double alpha) {
        values.put("ss_network_module", module);
        values.put("ss_network_dim", Integer.toString(dim));
        values.put("ss_network_alpha", pyFloat(alpha));
        return this;
    }

    /**
     * ss_v2 and ss_base_model_version ({@code sd_v1}, {@code sd_v2}, with {@code _v} for v-prediction;
     * {@code sdxl_base_v1-0} for SDXL).
     */
    public KohyaMetadata model(boolean v2, boolean sdxl, boolean vPrediction) {
        values.put("ss_v2", pyBool(v2));
        values.put("ss_base_model_version", sdxl ? "sdxl_base_v1-0" : (v2 ? "sd_v2" : "sd_v1") + (vPrediction ? "_v" : ""));
        return this;
    }

    public KohyaMetadata resolution(int width, int height) {
        values.put("ss_resolution", "(" + width + ", " + height + ")");
        return this;
    }

    /** The base learning rate and the per-group rates of the UNet and text encoder. */
    public KohyaMetadata learningRates(double lr, double unetLr, double textEncoderLr) {
        values.put("ss_learning_rate", pyFloat(lr));
        values.put("ss_unet_lr", pyFloat(unetLr));
        values.put("ss_text_encoder_lr", pyFloat(textEncoderLr));
        return this;
    }

    /** Total epochs planned, the epoch just finished (1-based, as kohya counts) and the steps done. */
    public KohyaMetadata progress(int numEpochs, int epoch, long steps) {
        values.put("ss_num_epochs", Integer.toString(numEpochs));
        values.put("ss_epoch", Integer.toString(epoch));
        values.put("ss_steps", Long.toString(steps));
        return this;
    }

    public KohyaMetadata batchSizePerDevice(int batchSize) {
        values.put("ss_batch_size_per_device", Integer.toString(batchSize));
        return this;
    }

    public KohyaMetadata seed(long seed) {
        values.put("ss_seed", Long.toString(seed));
        return this;
    }

    /** {@code no}, {@code fp16} or {@code bf16}, as accelerate names it. */
    public KohyaMetadata mixedPrecision(String precision) {
        values.put("ss_mixed_precision", precision);
        return this;
    }

    public KohyaMetadata outputName(String name) {
        values.put("ss_output_name", name);
        return this;
    }

    /** Unix timestamps in seconds with a fraction, as Python's {@code str(time.time())}. */
    public KohyaMetadata trainingTimes(Instant startedAt, Instant finishedAt) {
        values.put("ss_training_started_at", timestamp(startedAt));
        values.put("ss_training_finished_at", timestamp(finishedAt));
        return this;
    }

    public KohyaMetadata enableBucket(boolean enabled) {
        values.put("ss_enable_bucket", pyBool(enabled));
        return this;
    }

    /**
     * ss_tag_frequency from the captions of each dataset directory (keyed by the directory's name): tags are
     * the comma-separated parts, stripped and lower-cased, empty parts skipped, as kohya counts them.
     */
    public KohyaMetadata tagFrequency(Map<String, List<String>> captionsByDirectory) {
        Map<String, Map<String, Integer>> freq = new LinkedHashMap<>();
        captionsByDirectory.forEach((dir, captions) -> {
            Map<String, Integer> counts = freq.computeIfAbsent(dir, k -> new LinkedHashMap<>());
            for (String caption : captions) {
                for (String tag : caption.split(",", -1)) {
                    String t = tag.strip().toLowerCase(Locale.ROOT);
                    if (!t.isEmpty()) counts.merge(t, 1, Integer::sum);
                }
            }
        });
        values.put("ss_tag_frequency", pyJson(freq));
        return this;
    }

    /** Any other training key; it must start with {@code ss_} so it counts towards the hashes as kohya's do. */
    public KohyaMetadata put(String key, String value) {
        if (!key.startsWith("ss_")) throw new IllegalArgumentException("kohya training metadata keys start with ss_, got " + key);
        values.put(key, value);
        return this;
    }

    /** The keys set so far, sorted. */
    public Map<String, String> build() {
        return new TreeMap<>(values);
    }

    /**
     * Python's {@code json.dumps} of maps, lists, strings, numbers, booleans and null: {@code ", "} and
     * {@code ": "} separators, non-ASCII escaped as {@code \\uXXXX}, floats as {@link #pyFloat}.
     */
    public static String pyJson(Object value) {
        StringBuilder out = new StringBuilder();
        json(value, out);
        return out.toString();
    }

    private static void json(Object value, StringBuilder out) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof Map<?, ?> map) {
            out.append('{');
            String sep = "";
            for (Map.Entry<?, ?> e : map.entrySet()) {
                out.append(sep);
                jsonString(String.valueOf(e.getKey()), out);
                out.append(": ");
                json(e.getValue(), out);
                sep = ", ";
            }
            out.append('}');
        } else if (value instanceof List<?> list) {
            out.append('[');
            String sep = "";
            for (Object o : list) {
                out.append(sep);
                json(o, out);
                sep = ", ";
            }
            out.append(']');
        } else if (value instanceof Boolean b) {
            out.append(b ? "true" : "false");
        } else if (value instanceof Double || value instanceof Float) {
            double d = ((Number) value).doubleValue();
            out.append(Double.isNaN(d) ? "NaN" : Double.isInfinite(d) ? (d > 0 ? "Infinity" : "-Infinity") : pyFloat(d));
        } else if (value instanceof Number n) {
            out.append(n.longValue());
        } else {
            jsonString(value.toString(), out);
        }
    }

    private static void jsonString(String s, StringBuilder out) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7e) out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    else out.append(c);
                }
            }
        }
        out.append('"');
    }

    /**
     * Python's {@code str()} of {@code ast.literal_eval(raw)} for the values kohya's {@code --optimizer_args} take:
     * numbers ({@code 1e-3} becomes {@code 0.001}), {@code True}/{@code False}/{@code None} and tuples
     * ({@code 0.9,0.999} becomes {@code (0.9, 0.999)}).
     */
    public static String pyLiteral(String raw) {
        String s = raw.strip();
        if (s.startsWith("(") && s.endsWith(")")) s = s.substring(1, s.length() - 1);
        if (s.contains(",")) {
            List<String> parts = new java.util.ArrayList<>();
            for (String p : s.split(",", -1)) if (!p.isBlank()) parts.add(pyLiteral(p));
            return "(" + String.join(", ", parts) + (parts.size() == 1 ? ",)" : ")");
        }
        if (s.matches("[+-]?\\d+")) return new java.math.BigInteger(s.startsWith("+") ? s.substring(1) : s).toString();
        try {
            return pyFloat(Double.parseDouble(s));
        } catch (NumberFormatException e) {
            return s;
        }
    }

    public static String pyBool(boolean b) {
        return b ? "True" : "False";
    }

    /** Python's repr of a float: shortest digits, scientific below 1e-4 and from 1e16, always a '.0' or exponent. */
    public static String pyFloat(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return (1 / d < 0) ? "-0.0" : "0.0";
        BigDecimal v = new BigDecimal(Double.toString(d)).stripTrailingZeros();
        String digits = v.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - v.scale(); // decimal exponent of the first digit
        String sign = d < 0 ? "-" : "";
        if (exp < -4 || exp >= 16) {
            String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + String.format(Locale.ROOT, "%02d", Math.abs(exp));
        }
        String plain = v.abs().toPlainString();
        return sign + (plain.contains(".") ? plain : plain + ".0");
    }

    public static String timestamp(Instant t) {
        return pyFloat(t.getEpochSecond() + t.getNano() / 1e9);
    }
}

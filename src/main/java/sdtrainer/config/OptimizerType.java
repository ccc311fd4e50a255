package sdtrainer.config;

import com.fasterxml.jackson.annotation.JsonValue;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** The optimizers {@code --optimizer} chooses, each with the {@code --optimizer_args} keys it takes (kohya's names). */
public enum OptimizerType {
    ADAMW(Map.of("betas", OptimizerArgs.Kind.BETAS, "eps", OptimizerArgs.Kind.NON_NEGATIVE,
            "weight_decay", OptimizerArgs.Kind.NON_NEGATIVE)),
    ADAMW8BIT(with(ADAMW.args, Map.of("min_8bit_size", OptimizerArgs.Kind.COUNT))),
    LION(Map.of("betas", OptimizerArgs.Kind.BETAS, "weight_decay", OptimizerArgs.Kind.NON_NEGATIVE)),
    LION8BIT(with(LION.args, Map.of("min_8bit_size", OptimizerArgs.Kind.COUNT))),
    PRODIGY(Map.ofEntries(Map.entry("betas", OptimizerArgs.Kind.BETAS), Map.entry("beta3", OptimizerArgs.Kind.FRACTION),
            Map.entry("eps", OptimizerArgs.Kind.NON_NEGATIVE), Map.entry("weight_decay", OptimizerArgs.Kind.NON_NEGATIVE),
            Map.entry("decouple", OptimizerArgs.Kind.FLAG), Map.entry("use_bias_correction", OptimizerArgs.Kind.FLAG),
            Map.entry("safeguard_warmup", OptimizerArgs.Kind.FLAG), Map.entry("d0", OptimizerArgs.Kind.POSITIVE),
            Map.entry("d_coef", OptimizerArgs.Kind.POSITIVE), Map.entry("growth_rate", OptimizerArgs.Kind.POSITIVE),
            Map.entry("slice_p", OptimizerArgs.Kind.COUNT))),
    ADAFACTOR(Map.of("eps", OptimizerArgs.Kind.EPS_PAIR, "clip_threshold", OptimizerArgs.Kind.POSITIVE,
            "decay_rate", OptimizerArgs.Kind.NUMBER, "beta1", OptimizerArgs.Kind.FRACTION_OR_NONE,
            "weight_decay", OptimizerArgs.Kind.NON_NEGATIVE, "scale_parameter", OptimizerArgs.Kind.FLAG,
            "relative_step", OptimizerArgs.Kind.FLAG, "warmup_init", OptimizerArgs.Kind.FLAG)),
    SGD(Map.of("momentum", OptimizerArgs.Kind.NON_NEGATIVE, "dampening", OptimizerArgs.Kind.NON_NEGATIVE,
            "weight_decay", OptimizerArgs.Kind.NON_NEGATIVE, "nesterov", OptimizerArgs.Kind.FLAG));

    private final Map<String, OptimizerArgs.Kind> args;

    OptimizerType(Map<String, OptimizerArgs.Kind> args) {
        this.args = args;
    }

    private static Map<String, OptimizerArgs.Kind> with(Map<String, OptimizerArgs.Kind> a, Map<String, OptimizerArgs.Kind> b) {
        Map<String, OptimizerArgs.Kind> m = new LinkedHashMap<>(a);
        m.putAll(b);
        return Map.copyOf(m);
    }

    /** The {@code --optimizer_args} keys this optimizer takes and what each value must be. */
    public Map<String, OptimizerArgs.Kind> args() {
        return args;
    }

    /** The spelling used on the command line and in config files; picocli lists candidates with it. */
    @JsonValue
    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}

package sdtrainer.train;

import java.util.Locale;

/**
 * Learning-rate multipliers as diffusers 0.21.4's {@code get_scheduler}: {@code factor(step)} is what LambdaLR
 * multiplies the base learning rate by for the step-th optimizer update, counting from 0 (so with warm-up the
 * first update runs at lr 0, as in diffusers' training scripts).
 *
 * <p>As in diffusers, {@code constant} ignores the warm-up steps; use {@code constant_with_warmup} to warm up.
 */
public record LrSchedule(Kind kind, int warmupSteps, int totalSteps) {

    public enum Kind {
        CONSTANT, CONSTANT_WITH_WARMUP, LINEAR, COSINE;

        public String configName() { return name().toLowerCase(Locale.ROOT); }
    }

    public LrSchedule {
        if (warmupSteps < 0) throw new IllegalArgumentException("warm-up steps must not be negative, got " + warmupSteps);
        if (totalSteps < 0) throw new IllegalArgumentException("total steps must not be negative, got " + totalSteps);
    }

    /** By diffusers' scheduler name: constant, constant_with_warmup, linear or cosine. */
    public static LrSchedule of(String name, int warmupSteps, int totalSteps) {
        for (Kind k : Kind.values()) {
            if (k.configName().equals(name)) return new LrSchedule(k, warmupSteps, totalSteps);
        }
        throw new IllegalArgumentException("unknown LR schedule '" + name
                + "'; expected constant, constant_with_warmup, linear or cosine");
    }

    public double factor(int step) {
        if (kind == Kind.CONSTANT) return 1.0;
        if (step < warmupSteps) return (double) step / Math.max(1, warmupSteps);
        int decaySteps = Math.max(1, totalSteps - warmupSteps);
        switch (kind) {
            case CONSTANT_WITH_WARMUP:
                return 1.0;
            case LINEAR:
                return Math.max(0.0, (double) (totalSteps - step) / decaySteps);
            case COSINE: {
                // diffusers' half cosine: num_cycles 0.5
                double progress = (double) (step - warmupSteps) / decaySteps;
                return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * 0.5 * 2.0 * progress)));
            }
            default:
                throw new IllegalStateException(kind.toString());
        }
    }
}

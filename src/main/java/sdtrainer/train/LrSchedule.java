package sdtrainer.train;

import java.util.Locale;

/**
 * Learning-rate multipliers as diffusers 0.21.4's {@code get_scheduler}: {@code factor(step)} is what LambdaLR
 * multiplies the base learning rate by for the step-th optimizer update, counting from 0 (so with warm-up the
 * first update runs at lr 0, as in diffusers' training scripts).
 *
 * <p>As in diffusers, {@code constant} ignores the warm-up steps; use {@code constant_with_warmup} to warm up.
 *
 * @param numCycles hard restarts of {@code cosine_with_restarts} ({@code --lr_scheduler_num_cycles}, default 1)
 * @param power     exponent of {@code polynomial} ({@code --lr_scheduler_power}, default 1)
 * @param lrInit    the optimizer's default lr that {@code polynomial} decays from towards its lr_end 1e-7
 *                  (kohya passes {@code --learning_rate}; here the UNet's lr); other kinds ignore it
 */
public record LrSchedule(Kind kind, int warmupSteps, int totalSteps, int numCycles, double power, double lrInit) {

    /** diffusers' lr_end of the polynomial decay. */
    static final double POLYNOMIAL_LR_END = 1e-7;

    public enum Kind {
        CONSTANT, CONSTANT_WITH_WARMUP, LINEAR, COSINE, COSINE_WITH_RESTARTS, POLYNOMIAL;

        public String configName() { return name().toLowerCase(Locale.ROOT); }
    }

    public LrSchedule {
        if (warmupSteps < 0) throw new IllegalArgumentException("warm-up steps must not be negative, got " + warmupSteps);
        if (totalSteps < 0) throw new IllegalArgumentException("total steps must not be negative, got " + totalSteps);
        if (numCycles < 1) throw new IllegalArgumentException("cycles must be at least 1, got " + numCycles);
        if (kind == Kind.POLYNOMIAL && !(lrInit > POLYNOMIAL_LR_END)) {
            // diffusers raises the same: the decay would climb towards lr_end
            throw new IllegalArgumentException("polynomial decay needs an lr above its end lr " + POLYNOMIAL_LR_END
                    + ", got " + lrInit);
        }
    }

    /** By diffusers' scheduler name, with diffusers' defaults (1 cycle, power 1, lr 1e-4 for the decay). */
    public static LrSchedule of(String name, int warmupSteps, int totalSteps) {
        return of(name, warmupSteps, totalSteps, 1, 1.0, 1e-4);
    }

    public static LrSchedule of(String name, int warmupSteps, int totalSteps, int numCycles, double power, double lrInit) {
        for (Kind k : Kind.values()) {
            if (k.configName().equals(name)) return new LrSchedule(k, warmupSteps, totalSteps, numCycles, power, lrInit);
        }
        throw new IllegalArgumentException("unknown LR schedule '" + name + "'; expected constant, constant_with_warmup,"
                + " linear, cosine, cosine_with_restarts or polynomial");
    }

    public double factor(int step) {
        if (kind == Kind.CONSTANT) return 1.0;
        if (step < warmupSteps) return (double) step / Math.max(1, warmupSteps);
        int decaySteps = Math.max(1, totalSteps - warmupSteps);
        double progress = (double) (step - warmupSteps) / decaySteps;
        switch (kind) {
            case CONSTANT_WITH_WARMUP:
                return 1.0;
            case LINEAR:
                return Math.max(0.0, (double) (totalSteps - step) / decaySteps);
            case COSINE:
                // diffusers' half cosine: num_cycles 0.5
                return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * 0.5 * 2.0 * progress)));
            case COSINE_WITH_RESTARTS:
                if (progress >= 1.0) return 0.0;
                return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * ((numCycles * progress) % 1.0))));
            case POLYNOMIAL: {
                if (step > totalSteps) return POLYNOMIAL_LR_END / lrInit;
                // diffusers divides by the raw decay steps here (no max(1, ...)); step > warm-up implies it is >= 1
                double remaining = 1 - (double) (step - warmupSteps) / (totalSteps - warmupSteps);
                return ((lrInit - POLYNOMIAL_LR_END) * Math.pow(remaining, power) + POLYNOMIAL_LR_END) / lrInit;
            }
            default:
                throw new IllegalStateException(kind.toString());
        }
    }
}

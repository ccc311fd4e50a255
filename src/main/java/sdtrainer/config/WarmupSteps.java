package sdtrainer.config;

import java.util.Locale;

/**
 * {@code --lr_warmup_steps}, as kohya's int_or_float: a whole number of steps, or a fraction below 1 (or a
 * percentage) of all training steps, which kohya turns into steps with int(fraction * total).
 */
public record WarmupSteps(int steps, double fraction, boolean isFraction) {

    private static final String EXPECTED = "give a step count such as 100, a fraction below 1 such as 0.05, or a percentage such as 5%";

    public static WarmupSteps parse(String text) {
        String t = text.strip();
        double value;
        try {
            value = t.endsWith("%") ? Double.parseDouble(t.substring(0, t.length() - 1)) / 100.0 : Double.parseDouble(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("not a number; " + EXPECTED);
        }
        if (!(value >= 0) || Double.isInfinite(value)) throw new IllegalArgumentException("must not be negative; " + EXPECTED);
        if (value < 1) return new WarmupSteps(0, value, true);
        if (t.endsWith("%") || value != Math.rint(value) || t.contains(".") || t.toLowerCase(Locale.ROOT).contains("e")) {
            throw new IllegalArgumentException("a fraction must be below 1 (100% or more is not a warm-up); " + EXPECTED);
        }
        if (value > Integer.MAX_VALUE) throw new IllegalArgumentException("too many steps; " + EXPECTED);
        return new WarmupSteps((int) value, 0, false);
    }

    /** Warm-up steps of a run of {@code totalSteps}. */
    public int of(long totalSteps) {
        return isFraction ? (int) (fraction * totalSteps) : steps;
    }

    /** The warm-up when --lr_warmup_steps is absent: the original tool's 5 % of all steps (rounded). */
    public static int defaultOf(long totalSteps) {
        return (int) Math.round(0.05 * totalSteps);
    }
}

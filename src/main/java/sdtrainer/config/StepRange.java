package sdtrainer.config;

/**
 * The part of the diffusion schedule that training samples timesteps from, as fractions of the
 * number of training timesteps: {@code [from, to)} with {@code 0 <= from < to <= 1}.
 */
public record StepRange(double from, double to) {

    private static final String EXPECTED = "give two fractions A,B, e.g. 0,1 or 0.5,1";

    public StepRange {
        if (!(from >= 0 && to <= 1)) {
            throw new IllegalArgumentException("both ends must lie in [0,1], e.g. 0,1 or 0.5,1");
        }
        if (!(from < to)) {
            throw new IllegalArgumentException("the range is empty; the first value must be below the second, e.g. 0,1");
        }
    }

    /** Parses {@code "A,B"}. */
    public static StepRange parse(String text) {
        String[] parts = CommaList.split(text);
        if (parts.length != 2) {
            throw new IllegalArgumentException(EXPECTED);
        }
        return new StepRange(CommaList.parseNumber(parts[0], EXPECTED), CommaList.parseNumber(parts[1], EXPECTED));
    }

    @Override
    public String toString() {
        return CommaList.format(from) + "," + CommaList.format(to);
    }
}

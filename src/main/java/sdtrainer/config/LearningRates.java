package sdtrainer.config;

/** Learning rates of the text encoder and the UNet (the original's {@code --lr "TE_LR,UNET_LR"}). */
public record LearningRates(double teLr, double unetLr) {

    private static final String EXPECTED = "give LR or TE_LR,UNET_LR, e.g. 5e-6 or 5e-6,1e-4";

    public LearningRates {
        if (!(teLr >= 0) || !(unetLr >= 0) || Double.isInfinite(teLr) || Double.isInfinite(unetLr)) {
            throw new IllegalArgumentException("learning rates must be finite and not negative, e.g. 5e-6");
        }
    }

    /** Parses {@code "LR"} (both the same) or {@code "TE_LR,UNET_LR"}. */
    public static LearningRates parse(String text) {
        String[] parts = CommaList.split(text);
        if (parts.length < 1 || parts.length > 2) {
            throw new IllegalArgumentException(EXPECTED);
        }
        double te = CommaList.parseNumber(parts[0], EXPECTED);
        double unet = parts.length == 2 ? CommaList.parseNumber(parts[1], EXPECTED) : te;
        return new LearningRates(te, unet);
    }

    @Override
    public String toString() {
        return teLr == unetLr ? CommaList.format(teLr) : CommaList.format(teLr) + "," + CommaList.format(unetLr);
    }
}

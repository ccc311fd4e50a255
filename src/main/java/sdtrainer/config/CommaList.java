package sdtrainer.config;

import java.math.BigDecimal;

/** The comma-separated value lists of the original tool's options ("512,768", "0,1", "5e-6,1e-4"). */
final class CommaList {

    private CommaList() {
    }

    /** Splits on commas and trims; an empty text gives no parts, an empty element stays empty. */
    static String[] split(String text) {
        String trimmed = text.strip();
        if (trimmed.isEmpty()) {
            return new String[0];
        }
        String[] parts = trimmed.split(",", -1);
        for (int i = 0; i < parts.length; i++) {
            parts[i] = parts[i].strip();
        }
        return parts;
    }

    /** A number, or an error that shows the expected form, e.g. {@code "give A,B, e.g. 0,1"}. */
    static double parseNumber(String text, String expected) {
        try {
            double value = Double.parseDouble(text);
            if (Double.isNaN(value)) {
                throw new NumberFormatException();
            }
            return value;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a number; " + expected);
        }
    }

    /** Plain spelling without trailing zeros: 1.0 → "1", 5.0E-6 → "0.000005". */
    static String format(double value) {
        return BigDecimal.valueOf(value).stripTrailingZeros().toString();
    }
}

package sdtrainer.config;

/**
 * Training image size in pixels. Both sides are positive multiples of 8 so that every VAE
 * (downsampling by up to 8) yields whole latent cells.
 */
public record Resolution(int width, int height) {
    /** Far above what any Stable Diffusion trains at (512 to 1024), still below sizes whose pixel counts overflow. */
    public static final int MAX_SIDE = 8192;

    public Resolution {
        checkSide(width);
        checkSide(height);
    }

    /** Parses the original tool's spelling: {@code "W,H"}, or {@code "N"} for a square. */
    public static Resolution parse(String text) {
        String[] parts = CommaList.split(text);
        if (parts.length < 1 || parts.length > 2) {
            throw new IllegalArgumentException("give W,H or N, e.g. 512,768 or 512");
        }
        int width = parseSide(parts[0]);
        int height = parts.length == 2 ? parseSide(parts[1]) : width;
        return new Resolution(width, height);
    }

    @Override
    public String toString() {
        return width + "," + height;
    }

    private static int parseSide(String text) {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a whole number; give W,H or N, e.g. 512,768 or 512");
        }
    }

    private static void checkSide(int side) {
        if (side <= 0) {
            throw new IllegalArgumentException(side + " is not positive; give sizes such as 512,512");
        }
        if (side > MAX_SIDE) {
            throw new IllegalArgumentException(side + " is larger than " + MAX_SIDE
                    + "; Stable Diffusion models train at 512 to 1024 pixels a side");
        }
        if (side % 8 != 0) {
            int below = side / 8 * 8;
            String nearest = below == 0 ? "8" : below + " or " + (below + 8);
            throw new IllegalArgumentException(side + " is not a multiple of 8; use " + nearest);
        }
    }
}

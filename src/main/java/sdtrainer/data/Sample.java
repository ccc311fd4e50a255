package sdtrainer.data;

/**
 * One training example as plain Java data, produced off the training thread: either a cached latent
 * (unscaled, [C, h, w]) or an image in [-1, 1] ([3, H, W]), its caption, an optional mask [h, w], and the size
 * of the image it was made from with its crop ({@code source}; null when unknown: the sample's own size, no crop).
 */
public record Sample(String stem, String caption, float[] latent, float[] image, float[] mask, long[] shape,
                     SourceSize source) {

    /** A sample whose source size is unknown. */
    public Sample(String stem, String caption, float[] latent, float[] image, float[] mask, long[] shape) {
        this(stem, caption, latent, image, mask, shape, null);
    }

    public boolean isLatent() {
        return latent != null;
    }
}

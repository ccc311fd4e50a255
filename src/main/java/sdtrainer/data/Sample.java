package sdtrainer.data;

/**
 * One training example as plain Java data, produced off the training thread: either a cached latent
 * (unscaled, [C, h, w]) or an image in [-1, 1] ([3, H, W]), its caption, and an optional mask [h, w].
 */
public record Sample(String stem, String caption, float[] latent, float[] image, float[] mask, long[] shape) {

    public boolean isLatent() {
        return latent != null;
    }
}

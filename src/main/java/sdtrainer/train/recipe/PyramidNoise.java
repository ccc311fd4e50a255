package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * {@code --multires_noise_iterations N --multires_noise_discount D}, kohya's pyramid_noise_like: level i adds
 * gaussian noise drawn at 1/r^i of the size (r uniform in [2, 4) per level), bilinearly upsampled and scaled by
 * D^i, stopping after the first level that is one pixel wide; the sum is divided by its (unbiased) std.
 */
public record PyramidNoise(int iterations, double discount) implements NoiseTransform {

    /** Bilinear in DJL 0.36's interpolate (0 is nearest; the fixture tells 1 from bicubic); align_corners false as nn.Upsample. */
    private static final int BILINEAR = 1;

    @Override
    public NDArray apply(NDArray latents, NDArray noise, Draws draws) {
        Shape s = noise.getShape();
        long b = s.get(0), c = s.get(1), w = s.get(2), h = s.get(3);
        NDArray sum = noise;
        for (int i = 0; i < iterations; i++) {
            double r = draws.uniform() * 2 + 2;
            long wn = Math.max(1, (long) (w / Math.pow(r, i)));
            long hn = Math.max(1, (long) (h / Math.pow(r, i)));
            NDArray level = draws.gaussian(noise.getManager(), new Shape(b, c, wn, hn));
            NDArray up = level.getNDArrayInternal().interpolation(new long[] {w, h}, BILINEAR, false);
            sum = sum.add(up.mul((float) Math.pow(discount, i)));
            if (wn == 1 || hn == 1) break;
        }
        return sum.div(unbiasedStd(sum));
    }

    private static NDArray unbiasedStd(NDArray x) {
        NDArray centred = x.sub(x.mean());
        return centred.square().sum().div((float) (x.size() - 1)).sqrt();
    }
}

package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * {@code --noise_offset X [--adaptive_noise_scale S]}, kohya's apply_noise_offset: every channel of every sample
 * gets one extra gaussian times X added to all its pixels; with S the offset grows by S * |channel mean of the
 * latents|, clamped at 0.
 */
public record NoiseOffset(double offset, Double adaptiveScale) implements NoiseTransform {

    @Override
    public NDArray apply(NDArray latents, NDArray noise, Draws draws) {
        Shape s = latents.getShape();
        NDArray shift = draws.gaussian(noise.getManager(), new Shape(s.get(0), s.get(1), 1, 1));
        if (adaptiveScale == null) return noise.add(shift.mul((float) offset));
        NDArray channelMeans = latents.reshape(s.get(0), s.get(1), -1).mean(new int[] {2}, true).expandDims(3);
        NDArray scale = channelMeans.abs().mul(adaptiveScale.floatValue())
                .add((float) offset).maximum(0f);
        return noise.add(scale.mul(shift));
    }
}

package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;

/** Reshapes the training noise before it is added to the latents; the result is also the epsilon target. */
public interface NoiseTransform {
    /**
     * @param latents clean latents [B, C, H, W]
     * @param noise   the noise so far, like latents
     * @return the new noise, on noise's manager
     */
    NDArray apply(NDArray latents, NDArray noise, Draws draws);
}

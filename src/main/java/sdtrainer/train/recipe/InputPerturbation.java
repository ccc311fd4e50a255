package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;

/**
 * {@code --ip_noise_gamma X} (input perturbation, arXiv 2301.11706): the noise that makes the noisy input gets
 * X times an extra gaussian, while the loss target keeps the unperturbed noise.
 */
public record InputPerturbation(double gamma) {

    /** The noise to add to the latents for the UNet's input; {@code noise} itself stays the target. */
    public NDArray inputNoise(NDArray noise, Draws draws) {
        return noise.add(draws.gaussian(noise.getManager(), noise.getShape()).mul((float) gamma));
    }
}

package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;

/**
 * One diffusers scheduler as used by its txt2img pipeline: plan the steps, scale the latents the model sees, and
 * advance the latents from the (guided) model output. Calls are indexed by their position i in
 * {@link #setTimesteps}'s result, not by timestep value (Heun calls the model twice at one timestep).
 * Samplers that keep a history (LMS, Heun, DPM-Solver) hold it outside the caller's per-step scopes until
 * {@link #close} or the next {@link #setTimesteps}.
 */
public interface Sampler extends AutoCloseable {

    /** Plans {@code steps} denoising steps; returns the timestep of every model call, in order. */
    float[] setTimesteps(int steps);

    /** Standard deviation of the initial latents: the pipeline multiplies unit noise by it. */
    float initNoiseSigma();

    /** What the model sees at call i (sigma samplers divide by sqrt(sigma^2 + 1)); identity by default. */
    default NDArray scaleModelInput(NDArray sample, int i) {
        return sample;
    }

    /**
     * The latents after call i. The result belongs to {@code sample}'s manager; stochastic samplers take their
     * draws from {@code noise}.
     */
    NDArray step(NDArray modelOutput, int i, NDArray sample, GaussianSource noise);

    @Override
    default void close() {}
}

package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.train.recipe.InputPerturbation;
import sdtrainer.train.recipe.NoiseTransform;

import java.util.List;

/** The forward process of one micro-batch: noise and timesteps drawn per sample, the noisy latents. */
public final class Noising {

    /** The draws and the noisy latents the UNet sees. */
    public record Noised(NDArray noise, NDArray timesteps, NDArray noisy) {
        /** Given noise and timesteps (the reference cases feed their own). */
        public static Noised of(NoiseSchedule schedule, NDArray latents, NDArray noise, NDArray timesteps) {
            return new Noised(noise, timesteps, schedule.addNoise(latents, noise, timesteps));
        }
    }

    private final NoiseSchedule schedule;
    private final TimestepRange range;
    private final List<NoiseTransform> transforms;
    private final InputPerturbation perturbation;

    /**
     * @param transforms   noise offset, pyramid noise ... applied in order; the result is also the epsilon target
     * @param perturbation null, or --ip_noise_gamma's extra noise for the UNet's input only
     */
    Noising(NoiseSchedule schedule, TimestepRange range, List<NoiseTransform> transforms, InputPerturbation perturbation) {
        this.schedule = schedule;
        this.range = range;
        this.transforms = List.copyOf(transforms);
        this.perturbation = perturbation;
    }

    Noised apply(NDArray latents, BatchDraws draws, NDManager m) {
        NDArray noise = draws.noise(m, latents.getShape());
        for (NoiseTransform transform : transforms) noise = transform.apply(latents, noise, draws);
        NDArray t = m.create(draws.timesteps(range)).toDevice(m.getDevice(), false);
        NDArray input = perturbation == null ? noise : perturbation.inputNoise(noise, draws);
        return new Noised(noise, t, schedule.addNoise(latents, input, t));
    }
}

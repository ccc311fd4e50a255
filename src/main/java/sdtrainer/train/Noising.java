package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import sdtrainer.diffusion.NoiseSchedule;

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

    Noising(NoiseSchedule schedule, TimestepRange range) {
        this.schedule = schedule;
        this.range = range;
    }

    Noised apply(NDArray latents, BatchDraws draws, NDManager m) {
        NDArray noise = draws.noise(m, latents.getShape());
        NDArray t = m.create(draws.timesteps(range)).toDevice(m.getDevice(), false);
        return Noised.of(schedule, latents, noise, t);
    }
}

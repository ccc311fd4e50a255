package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import sdtrainer.diffusion.NoiseSchedule;

/**
 * kohya's {@code all_snr}: (sqrt(acp) / sqrt(1 - acp))^2 per timestep in float32. kohya caches it before
 * {@code --zero_terminal_snr} rescales the schedule, so the loss weights are built from the ORIGINAL schedule.
 * Square roots are taken in Java (correctly rounded, as torch 1.13's were; libtorch 2.7's CPU sqrt is not always).
 */
public final class SnrTable {
    private final float[] snr;

    public SnrTable(NoiseSchedule original) {
        float[] acp = original.alphasCumprod();
        snr = new float[acp.length];
        for (int t = 0; t < acp.length; t++) {
            float ratio = (float) Math.sqrt(acp[t]) / (float) Math.sqrt(1f - acp[t]);
            snr[t] = ratio * ratio;
        }
    }

    public float[] values() {
        return snr.clone();
    }

    /** snr[t] for integer timesteps [B], as float32 [B] on the timesteps' manager and device. */
    public NDArray at(NDArray timesteps) {
        NDArray index = timesteps.toType(DataType.INT64, false);
        return timesteps.getManager().create(snr).toDevice(timesteps.getDevice(), false).take(index);
    }
}

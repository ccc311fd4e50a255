package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import sdtrainer.config.HuberSchedule;
import sdtrainer.diffusion.NoiseSchedule;

/**
 * The huber / smooth-l1 threshold per sample, kohya's get_huber_threshold_if_needed: {@code constant} c * scale;
 * {@code exponential} exp(-alpha t) * scale with alpha = -ln(c) / T; {@code snr} (1 - c) / (1 + sigma)^2 + c with
 * sigma = sqrt((1 - acp) / acp) of the schedule the noise is added with (rescaled under --zero_terminal_snr).
 */
public record HuberThreshold(HuberSchedule schedule, double c, double scale, NoiseSchedule noise) {

    /** Thresholds [B] (float32) for integer timesteps [B]. */
    public NDArray at(NDArray timesteps) {
        NDArray t = timesteps.toType(DataType.INT64, false);
        switch (schedule) {
            case CONSTANT:
                return t.zerosLike().toType(DataType.FLOAT32, false).add((float) (c * scale));
            case EXPONENTIAL: {
                double alpha = -Math.log(c) / noise.numTrainTimesteps();
                return t.toType(DataType.FLOAT32, false).mul((float) -alpha).exp().mul((float) scale);
            }
            case SNR: {
                NDArray acp = t.getManager().create(noise.alphasCumprod()).toDevice(t.getDevice(), false).take(t);
                NDArray sigma = acp.neg().add(1f).div(acp).sqrt();
                // torch's scalar / tensor is reciprocal(tensor) * scalar
                return sigma.add(1f).square().getNDArrayInternal().rdiv(1f).mul((float) (1 - c)).add((float) c);
            }
            default:
                throw new IllegalStateException(schedule.toString());
        }
    }
}

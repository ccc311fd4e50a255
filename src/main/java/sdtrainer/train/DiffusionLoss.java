package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.model.unet.AddedConditions;
import sdtrainer.model.unet.UNet2DConditionModel;
import ai.djl.ndarray.types.DataType;
import sdtrainer.nn.Checkpointing;
import sdtrainer.nn.Ops;

/** The denoising objective of one batch: noise the latents, predict, compare with epsilon or v by MSE. */
public final class DiffusionLoss {

    public record Result(NDArray loss, NDArray prediction, NDArray target, NDArray noisy) {}

    private DiffusionLoss() {}

    /**
     * @param latents   scaled latents [B, C, h, w]
     * @param context   text states [B, L, D]
     * @param noise     standard-normal noise like latents
     * @param timesteps integer timesteps [B]
     * @param mask      null, or [B, h, w] weights that multiply prediction and target (no renormalisation)
     */
    public static Result compute(UNet2DConditionModel unet, NoiseSchedule schedule, NDArray latents, NDArray context,
                                 NDArray noise, NDArray timesteps, boolean vPrediction, NDArray mask) {
        return compute(unet, schedule, latents, context, noise, timesteps, vPrediction, mask, null);
    }

    /** As above, with the UNet's blocks checkpointed when {@code checkpointing} is not null. */
    public static Result compute(UNet2DConditionModel unet, NoiseSchedule schedule, NDArray latents, NDArray context,
                                 NDArray noise, NDArray timesteps, boolean vPrediction, NDArray mask,
                                 Checkpointing checkpointing) {
        return compute(unet, schedule, latents, context, null, noise, timesteps, vPrediction, mask, checkpointing);
    }

    /** As above, with SDXL's added conditions ({@code added}, null for SD 1.x/2.x). */
    public static Result compute(UNet2DConditionModel unet, NoiseSchedule schedule, NDArray latents, NDArray context,
                                 AddedConditions added, NDArray noise, NDArray timesteps, boolean vPrediction,
                                 NDArray mask, Checkpointing checkpointing) {
        NDArray noisy = schedule.addNoise(latents, noise, timesteps);
        NDArray target = vPrediction ? schedule.velocity(latents, noise, timesteps) : noise;
        // an fp16 UNet (--amp, frozen base) computes in half; the loss and trained fp32 tensors stay in float32
        DataType dt = unet.dataType();
        NDArray pred = Ops.castKeepingGrad(unet.forward(noisy.toType(dt, false), timesteps,
                Ops.castKeepingGrad(context, dt), added, null, checkpointing), DataType.FLOAT32);
        NDArray p = pred, t = target;
        if (mask != null) {
            NDArray m = mask.expandDims(1);
            p = p.mul(m);
            t = t.mul(m);
        }
        NDArray loss = p.sub(t).square().mean();
        return new Result(loss, pred, target, noisy);
    }
}

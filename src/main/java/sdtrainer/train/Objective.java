package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import sdtrainer.config.TrainConfig;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.nn.Checkpointing;
import sdtrainer.nn.Ops;

/**
 * What the UNet is trained to predict and how far off it is: the target (epsilon, or v for v-prediction models)
 * and the loss, weighted by the dataset's mask when there is one. Decided once from the config and the model.
 */
public final class Objective {
    private final NoiseSchedule schedule;
    private final boolean vPrediction;
    private final String why;

    /** The loss of one forward pass, with what it compared. */
    public record Outcome(NDArray loss, NDArray prediction, NDArray target) {}

    private Objective(NoiseSchedule schedule, boolean vPrediction, String why) {
        this.schedule = schedule;
        this.vPrediction = vPrediction;
        this.why = why;
    }

    public static Objective of(TrainConfig cfg, NoiseSchedule schedule) {
        if (cfg.vPrediction()) return new Objective(schedule, true, "--v_prediction");
        return of(schedule, "v_prediction".equals(schedule.predictionType()));
    }

    public static Objective of(NoiseSchedule schedule, boolean vPrediction) {
        return new Objective(schedule, vPrediction, "from scheduler_config.json");
    }

    public boolean vPrediction() {
        return vPrediction;
    }

    String describe() {
        return (vPrediction ? "v-prediction" : "epsilon (noise)") + " (" + why + ")";
    }

    /**
     * The UNet's prediction for the noised latents (in float32; an fp16 UNet under --amp computes in half) and its
     * loss against the target. {@code mask}: null, or [B, h, w] weights; {@code checkpointing}: null, or the
     * recomputation of gradient checkpointing.
     */
    public Outcome compute(UNet2DConditionModel unet, NDArray latents, Noising.Noised n, NDArray context, NDArray mask,
                           Checkpointing checkpointing) {
        DataType dt = unet.dataType();
        NDArray prediction = Ops.castKeepingGrad(unet.forward(n.noisy().toType(dt, false), n.timesteps(),
                Ops.castKeepingGrad(context, dt), null, checkpointing), DataType.FLOAT32);
        NDArray target = vPrediction ? schedule.velocity(latents, n.noise(), n.timesteps()) : n.noise();
        return new Outcome(loss(prediction, target, mask), prediction, target);
    }

    /** Mean squared error with prediction and target both multiplied by the mask, not renormalised (the original's). */
    static NDArray loss(NDArray prediction, NDArray target, NDArray mask) {
        NDArray p = prediction, t = target;
        if (mask != null) {
            NDArray m = mask.expandDims(1);
            p = p.mul(m);
            t = t.mul(m);
        }
        return p.sub(t).square().mean();
    }
}

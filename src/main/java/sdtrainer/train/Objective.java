package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import sdtrainer.config.LossType;
import sdtrainer.config.TrainConfig;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.model.unet.AddedConditions;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.nn.Checkpointing;
import sdtrainer.nn.Ops;
import sdtrainer.train.recipe.ElementwiseLoss;
import sdtrainer.train.recipe.RecipeLoss;
import sdtrainer.train.recipe.TrainingRecipe;

/**
 * What the UNet is trained to predict and how far off it is: the target (epsilon, or v for v-prediction models)
 * and the loss, weighted by the dataset's mask when there is one. Decided once from the config and the model.
 */
public final class Objective {
    private final NoiseSchedule schedule;
    private final boolean vPrediction;
    private final String why;
    private final RecipeLoss loss;

    /** The loss of one forward pass, with what it compared. */
    public record Outcome(NDArray loss, NDArray prediction, NDArray target) {}

    private Objective(NoiseSchedule schedule, boolean vPrediction, String why, RecipeLoss loss) {
        this.schedule = schedule;
        this.vPrediction = vPrediction;
        this.why = why;
        this.loss = loss;
    }

    /**
     * The config's objective: {@code schedule} makes the v target, the loss comes from the recipe (--loss_type,
     * --min_snr_gamma, ...) with SNR weights from {@code original}, the model's schedule before --zero_terminal_snr.
     */
    public static Objective of(TrainConfig cfg, NoiseSchedule original, NoiseSchedule schedule) {
        boolean v = cfg.vPrediction() || "v_prediction".equals(schedule.predictionType());
        return new Objective(schedule, v, cfg.vPrediction() ? "--v_prediction" : "from scheduler_config.json",
                new TrainingRecipe(cfg).loss(original, schedule, v));
    }

    /** Plain mean squared error. */
    public static Objective of(NoiseSchedule schedule, boolean vPrediction) {
        return new Objective(schedule, vPrediction, "from scheduler_config.json",
                new RecipeLoss(new ElementwiseLoss(LossType.L2, null), java.util.List.of()));
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
        return compute(unet, latents, n, context, null, mask, checkpointing);
    }

    /** As above, with SDXL's added conditions ({@code added}; null for SD 1.x/2.x). */
    public Outcome compute(UNet2DConditionModel unet, NDArray latents, Noising.Noised n, NDArray context,
                           AddedConditions added, NDArray mask, Checkpointing checkpointing) {
        DataType dt = unet.dataType();
        NDArray prediction = Ops.castKeepingGrad(unet.forward(n.noisy().toType(dt, false), n.timesteps(),
                Ops.castKeepingGrad(context, dt), added, null, checkpointing), DataType.FLOAT32);
        NDArray target = vPrediction ? schedule.velocity(latents, n.noise(), n.timesteps()) : n.noise();
        // the original multiplied prediction and target by the mask: each element's error weighs mask^2 (not renormalised)
        NDArray weights = mask == null ? null : mask.expandDims(1).square();
        return new Outcome(loss.loss(prediction, target, n.timesteps(), weights), prediction, target);
    }
}

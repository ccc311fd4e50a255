package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;

/**
 * {@code --scale_v_pred_loss_like_noise_pred}, kohya's scale_v_prediction_loss_like_noise_prediction: a
 * v-prediction loss times snr / (snr + 1) (snr clamped to 1000) weighs timesteps as an epsilon loss would.
 */
public record VPredictionLikeNoiseScale(SnrTable snr) implements LossWeighting {

    @Override
    public NDArray apply(NDArray perSample, NDArray timesteps) {
        NDArray s = snr.at(timesteps).minimum(1000f);
        return perSample.mul(s.div(s.add(1f)));
    }
}

package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;

/**
 * {@code --debiased_estimation_loss}, kohya's apply_debiased_estimation: weight 1 / sqrt(snr) for epsilon,
 * 1 / (snr + 1) for v-prediction, with snr clamped to 1000 (it is huge near t = 0).
 */
public record DebiasedEstimation(boolean vPrediction, SnrTable snr) implements LossWeighting {

    @Override
    public NDArray apply(NDArray perSample, NDArray timesteps) {
        NDArray s = snr.at(timesteps).minimum(1000f);
        NDArray weight = (vPrediction ? s.add(1f) : s.sqrt()).getNDArrayInternal().rdiv(1f);
        return weight.mul(perSample);
    }
}

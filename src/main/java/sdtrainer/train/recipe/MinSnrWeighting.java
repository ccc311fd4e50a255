package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;

/**
 * {@code --min_snr_gamma G} (Hang et al. 2023), kohya's apply_snr_weight: weight min(snr, G) / snr for epsilon,
 * min(snr, G) / (snr + 1) for v-prediction. No clamp of snr, as kohya.
 */
public record MinSnrWeighting(double gamma, boolean vPrediction, SnrTable snr) implements LossWeighting {

    @Override
    public NDArray apply(NDArray perSample, NDArray timesteps) {
        NDArray s = snr.at(timesteps);
        NDArray clipped = s.minimum((float) gamma);
        return perSample.mul(clipped.div(vPrediction ? s.add(1f) : s));
    }
}

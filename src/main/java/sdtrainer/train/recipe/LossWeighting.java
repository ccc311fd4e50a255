package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;

/** A per-sample weight on the loss that depends on the timestep (min-SNR, debiased estimation, ...). */
public interface LossWeighting {
    /** @param perSample loss [B]; @param timesteps integer [B]; returns the weighted loss [B]. */
    NDArray apply(NDArray perSample, NDArray timesteps);
}

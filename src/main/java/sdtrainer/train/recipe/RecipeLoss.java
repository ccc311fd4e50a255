package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;

import java.util.List;

/**
 * The loss of one batch in kohya's order (train_network.process_batch): the elementwise loss, times the
 * per-element weights (masks), the mean over all but the batch axis, then each timestep weighting in turn
 * (min-SNR, v-like-noise scale, debiased estimation), then the mean over the batch.
 */
public record RecipeLoss(ElementwiseLoss elementwise, List<LossWeighting> weightings) {

    /**
     * @param elementWeights null, or weights broadcastable to pred (a mask [B, 1, h, w])
     * @return the scalar loss
     */
    public NDArray loss(NDArray pred, NDArray target, NDArray timesteps, NDArray elementWeights) {
        return perSample(pred, target, timesteps, elementWeights).mean();
    }

    /** The weighted loss of each sample [B], before the batch mean. */
    public NDArray perSample(NDArray pred, NDArray target, NDArray timesteps, NDArray elementWeights) {
        NDArray loss = elementwise.compute(pred, target, timesteps);
        if (elementWeights != null) loss = loss.mul(elementWeights);
        NDArray perSample = loss.reshape(loss.getShape().get(0), -1).mean(new int[] {1});
        for (LossWeighting w : weightings) perSample = w.apply(perSample, timesteps);
        return perSample;
    }
}

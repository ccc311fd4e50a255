package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Standard-normal draws for stochastic samplers: a seeded generator when sampling, recorded draws in tests. */
@FunctionalInterface
public interface GaussianSource {
    NDArray gaussian(NDManager manager, Shape shape);
}

package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Random draws of one batch; training backs it with per-sample seeded generators, tests with recorded draws. */
public interface Draws {
    /** Standard-normal values of {@code shape}, owned by {@code m}. */
    NDArray gaussian(NDManager m, Shape shape);

    /** One uniform value in [0, 1). */
    double uniform();
}

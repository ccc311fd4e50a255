package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** Random draws of one batch; training backs it with per-sample seeded generators, tests with recorded draws. */
public interface Draws {
    /** Standard-normal float32 values of {@code shape}; a leading batch axis draws each row from its sample's generator. */
    NDArray gaussian(NDManager m, Shape shape);

    /** A uniform value in [0, 1), as Python's {@code random.random()}. */
    double uniform();
}

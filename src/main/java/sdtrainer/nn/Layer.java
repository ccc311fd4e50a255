package sdtrainer.nn;

import ai.djl.ndarray.NDArray;

/** A module with a single input and a single output. */
public interface Layer {
    NDArray forward(NDArray x);
}

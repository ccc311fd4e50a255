package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;

/** Classifier-free guidance as diffusers' pipelines combine the two predictions. */
public final class ClassifierFreeGuidance {
    private ClassifierFreeGuidance() {}

    /** uncond + scale * (cond - uncond); belongs to uncond's manager. */
    public static NDArray guide(NDArray uncond, NDArray cond, float scale) {
        try (NDArray diff = cond.sub(uncond)) {
            return uncond.add(diff.muli(scale));
        }
    }
}

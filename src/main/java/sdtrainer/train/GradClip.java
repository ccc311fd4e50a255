package sdtrainer.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import sdtrainer.nn.NoGrad;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * --max_grad_norm: scales all trained gradients together so their global L2 norm is at most {@code maxNorm}, as
 * torch's {@code clip_grad_norm_} (norm of the per-tensor norms; coefficient max_norm / (norm + 1e-6), clamped to 1).
 * Returns the norm before clipping, for the logs.
 */
final class GradClip {
    private final double maxNorm;

    GradClip(double maxNorm) {
        this.maxNorm = maxNorm;
    }

    boolean enabled() {
        return maxNorm > 0;
    }

    /** The pre-clip global norm, or NaN when clipping is off (the norm is then not computed). */
    double apply(Collection<NDArray> params) {
        if (!enabled()) return Double.NaN;
        List<PtNDArray> grads = new ArrayList<>();
        try (NDScope scope = new NDScope(); NoGrad ignored = new NoGrad()) {
            for (NDArray p : params) {
                PtNDArray g = JniUtils.getGradient((PtNDArray) p);
                if (g != null) grads.add(g);
            }
            if (grads.isEmpty()) return 0;
            NDList norms = new NDList();
            for (NDArray g : grads) norms.add(g.norm().expandDims(0));
            float norm = NDArrays.concat(norms).norm().getFloat();
            // float32 arithmetic, as torch computes the coefficient on a float tensor
            float coef = Math.min(1f, (float) maxNorm / (norm + 1e-6f));
            for (NDArray g : grads) g.muli(coef);
            return norm;
        } finally {
            grads.forEach(NDArray::close);
        }
    }
}

package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;

import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/** Scope hand-over for computations that free their own intermediates. */
public final class Scopes {
    private Scopes() {}

    /**
     * Runs {@code body} in its own scope, freeing its intermediates, and gives its result to the enclosing scope,
     * if any. ({@link NDScope#unregister} alone removes the result from every open scope, so a caller's per-step
     * scope would never free it: a leak of one tensor per call.)
     */
    public static NDArray compute(Supplier<NDArray> body) {
        NDArray result;
        try (NDScope scope = new NDScope()) {
            result = body.get();
            NDScope.unregister(result);
        }
        NDScope.register(result);
        return result;
    }

    /**
     * As {@link #compute} when autograd is off (sampling, VAE decode, frozen encoders): a block's intermediates are
     * freed as soon as it returns, as torch's reference counting frees them, instead of living until the caller's
     * step ends; a VAE decode at full resolution otherwise holds every activation of the decoder at once. With
     * autograd on, {@code body} runs as is, its intermediates left to the step's scope.
     */
    public static NDArray inference(Supplier<NDArray> body) {
        return JniUtils.isGradMode() ? body.get() : compute(body);
    }

    /**
     * {@code f(x)} in its own scope as {@link #inference}; with autograd off, {@code x} (an intermediate the caller
     * owns and no longer needs) is freed as soon as the result exists, so a chain of blocks holds two activations
     * at a time, not all of them. With autograd on, x stays for the backward.
     */
    public static NDArray advance(NDArray x, UnaryOperator<NDArray> f) {
        if (JniUtils.isGradMode()) return f.apply(x);
        NDArray next = compute(() -> f.apply(x));
        x.close();
        return next;
    }
}

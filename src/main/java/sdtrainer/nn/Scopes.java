package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.pytorch.jni.JniUtils;

import java.util.Collection;
import java.util.List;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/** Scope hand-over for computations that free their own intermediates. */
public final class Scopes {
    private Scopes() {}

    /**
     * Runs {@code body} in its own scope, freeing its intermediates, and gives its result to the enclosing scope,
     * if any. (DJL's {@link NDScope#unregister} alone only removes it from the innermost scope, where nothing would
     * ever free it again: a leak of one tensor per call.)
     */
    public static NDArray compute(Supplier<NDArray> body) {
        return compute(body, List::of);
    }

    /**
     * As {@link #compute}, and the arrays {@code alsoKeep} names once {@code body} has run (what a later step still
     * reads, say) go to the enclosing scope with the result.
     */
    public static NDArray compute(Supplier<NDArray> body, Supplier<? extends Collection<NDArray>> alsoKeep) {
        NDArray result;
        Collection<NDArray> kept;
        try (NDScope scope = new NDScope()) {
            result = body.get();
            kept = alsoKeep.get();
            NDScope.unregister(result);
            kept.forEach(NDScope::unregister);
        }
        NDScope.register(result);
        kept.forEach(NDScope::register);
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
     * The blocks applied in order to {@code input}, each in its own scope as {@link #inference}; with autograd off,
     * each intermediate is freed as soon as the next block's output exists, so a chain holds two activations at a
     * time, not all of them. {@code input} is the caller's and stays. With autograd on, everything stays for the
     * backward.
     */
    public static NDArray chain(NDArray input, List<UnaryOperator<NDArray>> blocks) {
        NDArray h = input;
        for (UnaryOperator<NDArray> f : blocks) {
            NDArray x = h;
            h = inference(() -> f.apply(x));
            if (x != input && !JniUtils.isGradMode()) x.close();
        }
        return h;
    }
}

package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;

/**
 * The arrays a multistep sampler carries from one call to the next (LMS derivatives, Heun's first stage,
 * DPM-Solver's x0 predictions), held in a manager of their own so the caller's per-step scopes do not free
 * them; evicted entries are closed at once, the rest with the sampler.
 */
final class History implements AutoCloseable {
    private NDManager manager;

    /** Takes {@code a}, created during this call, out of every open scope into the history. */
    NDArray keep(NDArray a) {
        if (manager == null) manager = NDManager.newBaseManager(a.getDevice());
        NDScope.unregister(a);
        a.attach(manager);
        return a;
    }

    static void drop(NDArray a) {
        if (a != null) a.close();
    }

    @Override
    public void close() {
        if (manager != null) manager.close();
        manager = null;
    }
}

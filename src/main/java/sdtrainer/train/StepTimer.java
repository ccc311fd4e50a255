package sdtrainer.train;

import ai.djl.ndarray.NDArray;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Splits a training step's wall time into phases (data, text encoder, UNet forward, backward, optimizer).
 * Device work is asynchronous on CUDA, so each mark waits for the phase's last result first; that sync is
 * why timing is off in normal training ({@link #OFF}).
 */
public class StepTimer {
    public static final StepTimer OFF = new StepTimer() {
        @Override
        public void mark(String phase, NDArray last) {
        }
    };

    private final Map<String, Double> totalsMs = new LinkedHashMap<>();
    private long last = System.nanoTime();

    /** Starts timing the next phase now. */
    public void start() {
        last = System.nanoTime();
    }

    /** Ends {@code phase} once {@code last} (any result of it, or null) has been computed. */
    public void mark(String phase, NDArray last) {
        if (last != null && last.getDevice().isGpu()) last.sum().getFloat();
        long now = System.nanoTime();
        totalsMs.merge(phase, (now - this.last) / 1e6, Double::sum);
        this.last = now;
    }

    public Map<String, Double> totalsMs() {
        return totalsMs;
    }

    public void reset() {
        totalsMs.clear();
    }
}

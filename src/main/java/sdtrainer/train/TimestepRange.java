package sdtrainer.train;

import sdtrainer.config.StepRange;

/** Training timesteps: uniform integers in [floor(a*T), floor(b*T)) for {@code --step_range a,b}. */
public record TimestepRange(int lo, int hi) {

    public TimestepRange {
        if (lo < 0 || hi <= lo) throw new IllegalArgumentException("empty timestep range [" + lo + ", " + hi + ")");
    }

    public static TimestepRange of(StepRange range, int numTrainTimesteps) {
        int lo = (int) Math.floor(range.from() * numTrainTimesteps);
        int hi = (int) Math.floor(range.to() * numTrainTimesteps);
        // a range narrower than one timestep still trains on its lower end
        return new TimestepRange(lo, Math.max(lo + 1, hi));
    }
}

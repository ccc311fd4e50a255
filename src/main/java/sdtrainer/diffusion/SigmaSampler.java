package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;

/**
 * What diffusers 0.21.4's Euler, Euler-ancestral and LMS schedulers share: the {@link SigmaSchedule}, its initial
 * noise scale and input scaling, and the prediction types they accept.
 */
abstract class SigmaSampler implements Sampler {
    private final NoiseSchedule schedule;
    final String predictionType;
    private SigmaSchedule plan;

    SigmaSampler(NoiseSchedule schedule, String name) {
        this.schedule = schedule;
        this.predictionType = SigmaSchedule.requirePredictionType(schedule.config(), name);
    }

    @Override
    public float[] setTimesteps(int steps) {
        plan = SigmaSchedule.plan(schedule, steps);
        return plan.timesteps.clone();
    }

    @Override
    public float initNoiseSigma() {
        return plan().initNoiseSigma;
    }

    @Override
    public NDArray scaleModelInput(NDArray sample, int i) {
        return plan().scaleModelInput(sample, i);
    }

    /** The sigmas of the last {@link #setTimesteps}, ending with 0. */
    public float[] sigmas() {
        return plan().sigmas.clone();
    }

    /** Sigma i of the last {@link #setTimesteps} (i = steps: the final 0). */
    final float sigma(int i) {
        return plan().sigmas[i];
    }

    private SigmaSchedule plan() {
        if (plan == null) throw new IllegalStateException("call setTimesteps before sampling");
        return plan;
    }
}

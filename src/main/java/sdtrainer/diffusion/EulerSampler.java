package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Scopes;

/**
 * diffusers 0.21.4's {@code EulerDiscreteScheduler} with its defaults (s_churn 0, so no noise is added): one
 * Euler step of the probability-flow ODE per model call, in float32 scalar arithmetic as the reference.
 */
public final class EulerSampler implements Sampler {
    private final NoiseSchedule schedule;
    private final String predictionType;
    private SigmaSchedule plan;

    public EulerSampler(NoiseSchedule schedule) {
        this.schedule = schedule;
        this.predictionType = SigmaSchedule.requirePredictionType(schedule.config(), "euler");
    }

    @Override
    public float[] setTimesteps(int steps) {
        plan = SigmaSchedule.plan(schedule, steps);
        return plan.timesteps.clone();
    }

    /** The sigmas of the last {@link #setTimesteps}, ending with 0. */
    public float[] sigmas() {
        return requirePlan().sigmas.clone();
    }

    @Override
    public float initNoiseSigma() {
        return requirePlan().initNoiseSigma;
    }

    @Override
    public NDArray scaleModelInput(NDArray sample, int i) {
        return requirePlan().scaleModelInput(sample, i);
    }

    @Override
    public NDArray step(NDArray modelOutput, int i, NDArray sample, GaussianSource noise) {
        float sigma = requirePlan().sigmas[i];
        float dt = plan.sigmas[i + 1] - sigma;
        NDArray prev = Scopes.compute(() -> {
            NDArray x0 = SigmaSchedule.predictX0(predictionType, modelOutput, sample, sigma);
            NDArray derivative = sample.sub(x0).divi(sigma);
            return sample.add(derivative.muli(dt));
        });
        return Samplers.own(prev, sample);
    }

    private SigmaSchedule requirePlan() {
        if (plan == null) throw new IllegalStateException("call setTimesteps before sampling");
        return plan;
    }
}

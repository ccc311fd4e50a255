package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Scopes;

/**
 * diffusers 0.21.4's {@code EulerDiscreteScheduler} with its defaults (s_churn 0, so no noise is added): one
 * Euler step of the probability-flow ODE per model call, in float32 scalar arithmetic as the reference.
 */
public final class EulerSampler extends SigmaSampler {

    public EulerSampler(NoiseSchedule schedule) {
        super(schedule, "euler");
    }

    @Override
    public NDArray step(NDArray modelOutput, int i, NDArray sample, GaussianSource noise) {
        float sigma = sigma(i);
        float dt = sigma(i + 1) - sigma;
        NDArray prev = Scopes.compute(() -> {
            NDArray x0 = SigmaSchedule.predictX0(predictionType, modelOutput, sample, sigma);
            NDArray derivative = sample.sub(x0).divi(sigma);
            return sample.add(derivative.muli(dt));
        });
        return Samplers.own(prev, sample);
    }
}

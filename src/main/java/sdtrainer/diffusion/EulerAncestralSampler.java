package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import sdtrainer.nn.Scopes;

/**
 * diffusers 0.21.4's {@code EulerAncestralDiscreteScheduler}: an Euler step down to sigma_down, then fresh
 * noise of scale sigma_up, where sigma_up^2 + sigma_down^2 = sigma_next^2. One draw per step.
 */
public final class EulerAncestralSampler extends SigmaSampler {

    public EulerAncestralSampler(NoiseSchedule schedule) {
        super(schedule, "euler_a");
    }

    @Override
    public NDArray step(NDArray modelOutput, int i, NDArray sample, GaussianSource noise) {
        float sigma = sigma(i);
        float next = sigma(i + 1);
        float sigmaUp = (float) Math.sqrt(next * next * (sigma * sigma - next * next) / (sigma * sigma));
        float sigmaDown = (float) Math.sqrt(next * next - sigmaUp * sigmaUp);
        float dt = sigmaDown - sigma;
        NDArray prev = Scopes.compute(() -> {
            NDArray x0 = SigmaSchedule.predictX0(predictionType, modelOutput, sample, sigma);
            NDArray derivative = sample.sub(x0).divi(sigma);
            NDArray stepped = sample.add(derivative.muli(dt));
            return stepped.addi(noise.gaussian(sample.getManager(), sample.getShape()).mul(sigmaUp));
        });
        return Samplers.own(prev, sample);
    }
}

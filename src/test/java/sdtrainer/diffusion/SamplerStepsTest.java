package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import sdtrainer.Fixtures;
import sdtrainer.io.SafeTensors;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every sampler against diffusers 0.21.4's scheduler on the recorded pipeline runs: the timesteps, the initial
 * noise scale, and each step from the recorded model output and sample (so each step is checked on its own).
 */
class SamplerStepsTest {

    static NoiseSchedule tinySchedule() throws IOException {
        return new NoiseSchedule(SchedulerConfig.read(Fixtures.require("tiny-sd15", "scheduler", "scheduler_config.json")));
    }

    @TestFactory
    List<DynamicTest> everyStepOfEverySampler() throws IOException {
        NoiseSchedule schedule = tinySchedule();
        List<DynamicTest> tests = new ArrayList<>();
        for (SamplerRecipes.Case c : SamplerRecipes.cases()) {
            tests.add(DynamicTest.dynamicTest(c.sampler(), () -> {
                try (SafeTensors t = c.tensors(); Sampler s = Samplers.create(c.sampler(), schedule); NDManager m = NDManager.newBaseManager()) {
                    checkSteps(c, s, m);
                }
            }));
        }
        return tests;
    }

    private static void checkSteps(SamplerRecipes.Case c, Sampler s, NDManager m) {
        float[] ts = s.setTimesteps(c.inferenceSteps());
        double[] expected = c.doubles("step_timesteps");
        assertEquals(expected.length, ts.length, "model calls");
        for (int i = 0; i < ts.length; i++) assertEquals(expected[i], ts[i], 0, "timestep " + i);
        assertEquals((float) c.params().path("init_noise_sigma_exact").asDouble(), s.initNoiseSigma(), "init_noise_sigma");
        SamplerRecipes.Draws draws = c.draws(m);
        for (int i = 0; i < ts.length; i++) {
            try (NDManager step = m.newSubManager()) {
                NDArray sample = c.load("output.step." + i + ".sample", step);
                NDArray next = s.step(c.load("output.step." + i + ".model_output", step), i, sample, draws);
                assertSame(sample.getManager(), next.getManager(), "the result stays with the sample");
                double d = SamplerRecipes.maxDiff(c.load("output.step." + i + ".prev_sample", step).toFloatArray(), next.toFloatArray());
                assertTrue(d <= 1e-5, c.sampler() + " step " + i + " (t=" + ts[i] + "): max |diff| " + d);
            }
        }
        int recorded = c.params().path("n_noise_draws").asInt();
        // diffusers' Euler draws a noise tensor every step but uses it only when s_churn > 0 (default 0)
        assertEquals(c.sampler().equals("euler") ? 0 : recorded, draws.used(), "noise draws used");
    }
}

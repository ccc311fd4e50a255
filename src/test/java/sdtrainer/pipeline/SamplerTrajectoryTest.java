package sdtrainer.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import sdtrainer.Fixtures;
import sdtrainer.diffusion.Sampler;
import sdtrainer.diffusion.SamplerRecipes;
import sdtrainer.diffusion.Samplers;
import sdtrainer.io.SafeTensors;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole txt2img loop with each sampler on tiny-sd15 against diffusers 0.21.4's pipeline: prompt embeddings,
 * then from the recorded initial latents (and, for the stochastic samplers, the recorded noise draws) every
 * guided model output, every step's latents and the final latents, without resetting to the reference.
 */
class SamplerTrajectoryTest {
    private static NDManager manager;
    private static StableDiffusion model;

    @BeforeAll
    static void load() throws Exception {
        manager = NDManager.newBaseManager();
        model = StableDiffusion.load(Fixtures.require("tiny-sd15"), manager.getDevice());
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
        if (manager != null) manager.close();
    }

    @TestFactory
    List<DynamicTest> everySamplerFollowsDiffusers() throws Exception {
        List<DynamicTest> tests = new ArrayList<>();
        for (SamplerRecipes.Case c : SamplerRecipes.cases()) {
            tests.add(DynamicTest.dynamicTest(c.sampler(), () -> {
                try (SafeTensors t = c.tensors(); NDManager m = manager.newSubManager();
                     Sampler s = Samplers.create(c.sampler(), model.schedule())) {
                    trajectory(c, s, m);
                }
            }));
        }
        return tests;
    }

    private static void trajectory(SamplerRecipes.Case c, Sampler s, NDManager m) {
        NDArray cond = model.encodePrompts(List.of(c.prompt()), m);
        NDArray uncond = model.encodePrompts(List.of(c.negativePrompt()), m);
        check(c, "prompt_embeds.cond", cond.toFloatArray(), m);
        check(c, "prompt_embeds.uncond", uncond.toFloatArray(), m);
        SamplerRecipes.Draws draws = c.draws(m);
        List<float[]> guided = new ArrayList<>(), latents = new ArrayList<>();
        NDArray last = TextToImage.denoise(model, s, cond, uncond, c.load("input.latents", m), c.inferenceSteps(),
                c.guidance(), draws, (i, t, g, next) -> {
                    guided.add(g.toFloatArray());
                    latents.add(next.toFloatArray());
                });
        assertEquals(c.params().path("n_scheduler_steps").asInt(), guided.size(), "model calls");
        for (int i = 0; i < guided.size(); i++) {
            check(c, "step." + i + ".model_output", guided.get(i), m);
            check(c, "step." + i + ".prev_sample", latents.get(i), m);
        }
        check(c, "final_latents", last.toFloatArray(), m);
    }

    private static void check(SamplerRecipes.Case c, String name, float[] got, NDManager m) {
        float[] expected = c.load("output." + name, m).toFloatArray();
        double d = SamplerRecipes.maxDiff(expected, got);
        double tolerance = SamplerRecipes.tolerance(expected);
        assertTrue(d <= tolerance, c.sampler() + " " + name + ": max |diff| " + d + " > " + tolerance);
    }
}

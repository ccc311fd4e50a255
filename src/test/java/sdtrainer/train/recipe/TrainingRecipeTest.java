package sdtrainer.train.recipe;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;
import sdtrainer.config.ConfigLoader;
import sdtrainer.config.LossType;
import sdtrainer.config.TrainConfig;
import sdtrainer.diffusion.NoiseSchedule;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Which pieces a config turns on, and that the defaults are the plain sd-trainer step. */
class TrainingRecipeTest {

    private static TrainingRecipe recipe(Object... keyValues) {
        Map<String, Object> values = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) values.put((String) keyValues[i], keyValues[i + 1]);
        TrainConfig cfg = ConfigLoader.merge(new TrainConfig(), values);
        return new TrainingRecipe(cfg);
    }

    private static final NoiseSchedule SCHEDULE = LossRecipesTest.kohyaSchedule(false);

    @Test
    void defaultsAreThePlainStep() {
        TrainingRecipe r = recipe();
        assertEquals(List.of(), r.noiseTransforms());
        assertTrue(r.inputPerturbation().isEmpty());
        assertSame(SCHEDULE, r.trainingSchedule(SCHEDULE));
        RecipeLoss loss = r.loss(SCHEDULE, SCHEDULE, false);
        assertEquals(LossType.L2, loss.elementwise().type());
        assertEquals(List.of(), loss.weightings());
        assertTrue(r.captions().isIdentity());
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray g = m.randomNormal(new Shape(1, 4, 8, 8));
            assertSame(g, r.noise(g, g, new RecordedDraws(List.of(), List.of())), "no transform, the same noise, no draws");
        }
    }

    @Test
    void aFullRecipeTurnsOnEachPieceInKohyasOrder() {
        TrainingRecipe r = recipe("noise_offset", 0.05, "adaptive_noise_scale", 0.01, "multires_noise_iterations", 6,
                "ip_noise_gamma", 0.1, "zero_terminal_snr", true, "min_snr_gamma", 5.0, "debiased_estimation_loss", true,
                "scale_v_pred_loss_like_noise_pred", true, "loss_type", "huber", "shuffle_caption", true,
                "keep_tokens", 1, "lr_scheduler", "polynomial", "lr_warmup_steps", "0.1", "lr_scheduler_power", 2.0);
        assertEquals(List.of(new NoiseOffset(0.05, 0.01), new PyramidNoise(6, 0.3)), r.noiseTransforms());
        assertEquals(0.1, r.inputPerturbation().orElseThrow().gamma());
        NoiseSchedule training = r.trainingSchedule(SCHEDULE);
        assertEquals(0f, training.alphaCumprod(999));
        RecipeLoss loss = r.loss(SCHEDULE, training, true);
        assertEquals(List.of(MinSnrWeighting.class, VPredictionLikeNoiseScale.class, DebiasedEstimation.class),
                loss.weightings().stream().map(Object::getClass).toList());
        assertSame(training, loss.elementwise().threshold().noise(), "the huber snr threshold sees the rescaled schedule");
        assertThrows(IllegalArgumentException.class, () -> r.loss(SCHEDULE, training, false), "scale_v needs v-prediction");
        assertTrue(r.captions().apply("a, b, c", new Random(0)).startsWith("a, "));
        TrainingRecipe keep3 = recipe("shuffle_caption", true, "keep_tokens", 3);
        assertTrue(keep3.captionProblem(List.of("a, b, c", "c, d, e, f")).isEmpty());
        String problem = keep3.captionProblem(List.of("a, b, c", "x, y", "z")).orElseThrow();
        assertTrue(problem.startsWith("2 caption(s) have fewer tags than --keep_tokens 3, e.g. 'x, y'"), problem);
    }
}

package sdtrainer.train;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sdtrainer.Fixtures;
import sdtrainer.config.ConfigValidator;
import sdtrainer.config.TrainConfig;
import sdtrainer.log.MetricsLog;
import sdtrainer.nn.NoGrad;
import sdtrainer.pipeline.StableDiffusion;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Every recipe option of issue 12 switched on at once, trained for a few steps on tiny-sd15 with masks. */
class RecipeTrainingTest {

    static Map<String, Object> everyRecipeOption() {
        Map<String, Object> m = new HashMap<>();
        m.put("use_bucket", true);
        m.put("mask", true);
        m.put("step_range", "0.2,1");
        m.put("v_prediction", true);
        m.put("noise_offset", 0.05);
        m.put("adaptive_noise_scale", 0.01);
        m.put("multires_noise_iterations", 3);
        m.put("multires_noise_discount", 0.4);
        m.put("ip_noise_gamma", 0.1);
        m.put("zero_terminal_snr", true);
        m.put("min_snr_gamma", 5.0);
        m.put("debiased_estimation_loss", true);
        m.put("scale_v_pred_loss_like_noise_pred", true);
        m.put("loss_type", "huber");
        m.put("huber_schedule", "snr");
        m.put("huber_c", 0.1);
        m.put("shuffle_caption", true);
        m.put("keep_tokens", 1);
        m.put("caption_dropout_rate", 0.2);
        m.put("caption_tag_dropout_rate", 0.3);
        m.put("caption_prefix", "sks,");
        m.put("caption_suffix", ", best quality");
        m.put("clip_skip", 2);
        m.put("max_token_length", 150);
        m.put("lr_scheduler", "cosine_with_restarts");
        m.put("lr_scheduler_num_cycles", 2);
        m.put("lr_warmup_steps", "1");
        m.put("validation_split", 0.2);
        return m;
    }

    @Test
    void everyOptionAtOnceTrainsSavesAndSamples(@TempDir Path tmp) throws Exception {
        Path ds = TrainerTest.bucketDataset(tmp.resolve("ds"));
        TrainConfig cfg = TrainerTest.config(ds, tmp.resolve("recipe"), everyRecipeOption());
        assertEquals(List.of(), ConfigValidator.validate(cfg));
        List<Double> recipeLosses;
        try (StableDiffusion sd = StableDiffusion.load(Fixtures.TINY_SD15, ai.djl.Device.cpu())) {
            Trainer.Summary s = TrainerTest.train(cfg, sd);
            assertTrue(s.steps() >= 2, "a few steps: " + s.steps());
            Path metrics = cfg.output().orElseThrow().resolve(MetricsLog.FILE_NAME);
            recipeLosses = TrainerTest.losses(metrics);
            assertEquals(s.steps(), recipeLosses.size());
            recipeLosses.forEach(l -> assertTrue(Double.isFinite(l) && l > 0, "loss " + l));
            assertTrue(Files.readString(metrics).contains("\"val_loss\""), "the held-out sample's loss is logged");
            JsonNode first = new ObjectMapper().readTree(Files.readAllLines(metrics).get(0));
            assertEquals(0.0, first.get("lr").get("unet").asDouble(), "one warm-up step starts at lr 0");
            // the model kept the recipe's schedule and prompt path, so the save point's samples used them too
            assertTrue(sd.schedule().zeroTerminalSnr());
            try (NDManager m = sd.manager().newSubManager(); NoGrad ignored = new NoGrad()) {
                assertEquals(152, sd.encodePrompts(List.of("a, b"), m).getShape().get(1));
            }
            assertTrue(Files.list(cfg.imageLog().orElseThrow()).findAny().isPresent(), "sample images written");
        }
        TrainConfig plainCfg = TrainerTest.config(ds, tmp.resolve("plain"), Map.of("use_bucket", true, "mask", true,
                "step_range", "0.2,1", "v_prediction", true, "validation_split", 0.2));
        try (StableDiffusion sd = StableDiffusion.load(Fixtures.TINY_SD15, ai.djl.Device.cpu())) {
            TrainerTest.train(plainCfg, sd);
            List<Double> plain = TrainerTest.losses(plainCfg.output().orElseThrow().resolve(MetricsLog.FILE_NAME));
            assertEquals(recipeLosses.size(), plain.size());
            assertNotEquals(plain.get(0), recipeLosses.get(0), "the recipe changes the first step's loss");
        }
    }
}

package sdtrainer.pipeline;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import sdtrainer.Fixtures;
import sdtrainer.diffusion.EulerSampler;
import sdtrainer.diffusion.Sampler;
import sdtrainer.diffusion.Samplers;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.unet.AddedConditions;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.nn.NoGrad;
import sdtrainer.pipeline.ReferenceParityTest.Case;
import sdtrainer.train.Noising;
import sdtrainer.train.Objective;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs every case of an SDXL fixture's {@code reference/cases.json} (default ../shared/fixtures/tiny-sdxl, or the
 * system property {@code sdt.sdxl_fixture}) against {@link StableDiffusionXL}, dispatching on {@code kind}.
 */
class SdxlReferenceParityTest {
    private static final Path DEFAULT = Fixtures.path("tiny-sdxl");
    private static Path fixture;
    private static NDManager manager;
    private static StableDiffusionXL model;

    @BeforeAll
    static void load() throws Exception {
        fixture = ReferenceParityTest.fixture("sdt.sdxl_fixture", DEFAULT);
        manager = NDManager.newBaseManager();
        model = StableDiffusionXL.load(fixture, manager.getDevice());
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
        if (manager != null) manager.close();
    }

    @TestFactory
    List<DynamicTest> everyCase() throws Exception {
        return ReferenceParityTest.everyCase(fixture, manager, kind -> switch (kind) {
            case "tokenizer" -> k -> ReferenceParityTest.tokenizer(fixture, k);
            case "vae" -> k -> ReferenceParityTest.vae(model.vae(), k);
            case "sdxl_text_encoders" -> this::textEncoders;
            case "sdxl_encode_prompt" -> this::encodePrompt;
            case "sdxl_unet" -> this::unet;
            case "sdxl_txt2img" -> this::txt2img;
            case "sdxl_train_step" -> this::trainStep;
            default -> null;
        });
    }

    /** Each encoder separately: every hidden state, the last (final-normed) state, pooled and projected outputs. */
    private void textEncoders(Case k) throws Exception {
        ClipTextModel.Output o1 = model.textEncoder().forward(k.in("input_ids_1"));
        ClipTextModel.Output o2 = model.textEncoder2().forward(k.in("input_ids_2"));
        List<NDArray> h1 = o1.hiddenStates(), h2 = o2.hiddenStates();
        k.check("te1.penultimate_hidden_state", h1.get(h1.size() - 2));
        k.check("te1.last_hidden_state", o1.lastHiddenState());
        k.check("te1.pooler_output", o1.pooled());
        k.check("te2.penultimate_hidden_state", h2.get(h2.size() - 2));
        k.check("te2.last_hidden_state", o2.lastHiddenState());
        k.check("te2.text_embeds", model.textEncoder2().textEmbeds(o2));
        for (String n : k.outputs("te1.hidden_states.")) k.check(n, h1.get(index(n)));
        for (String n : k.outputs("te2.hidden_states.")) k.check(n, h2.get(index(n)));
        assertEquals(h1.size(), k.outputs("te1.hidden_states.").size(), "te1 hidden states checked");
    }

    private static int index(String name) {
        return Integer.parseInt(name.substring(name.lastIndexOf('.') + 1));
    }

    /** encode_prompt from the texts: our tokenization, both encoders, and the negative rule of the case. */
    private void encodePrompt(Case k) throws Exception {
        JsonNode p = k.json().path("params");
        List<String> prompts = strings(p.path("prompts"));
        List<String> negatives = p.path("negative_prompts").isArray() ? strings(p.path("negative_prompts")) : null;
        if (p.has("force_zeros_for_empty_prompt")) {
            assertEquals(p.get("force_zeros_for_empty_prompt").asBoolean(), model.forceZerosForEmptyPrompt(),
                    "force_zeros_for_empty_prompt read from model_index.json");
        }
        NDArray[] ids = model.tokenize(prompts, k.m());
        if (k.ref().info("input.input_ids_1") != null) {
            assertEquals(k.in("input_ids_1"), ids[0], "tokenizer ids");
            assertEquals(k.in("input_ids_2"), ids[1], "tokenizer_2 ids");
        }
        StableDiffusionXL.TextConditioning cond = model.encode(ids[0], ids[1]);
        StableDiffusionXL.TextConditioning neg = model.encodeNegative(negatives, cond, k.m());
        k.check("prompt_embeds", cond.context());
        k.check("pooled_prompt_embeds", cond.pooled());
        k.check("negative_prompt_embeds", neg.context());
        k.check("negative_pooled_prompt_embeds", neg.pooled());
        if (k.ref().info("output.te1.penultimate_hidden_state") != null) {
            long d1 = k.ref().info("output.te1.penultimate_hidden_state").shape()[2];
            k.check("te1.penultimate_hidden_state", cond.context().get(":, :, :{}", d1));
            k.check("te2.penultimate_hidden_state", cond.context().get(":, :, {}:", d1));
        }
    }

    private static List<String> strings(JsonNode a) {
        List<String> out = new ArrayList<>();
        a.forEach(n -> out.add(n.asText()));
        return out;
    }

    /** One forward with added conditioning, every hooked stage (add_time_proj, add_embedding included). */
    private void unet(Case k) throws Exception {
        Map<String, NDArray> seen = new HashMap<>();
        NDArray out = model.unet().forward(k.in("sample"), k.in("timestep"), k.in("encoder_hidden_states"),
                new AddedConditions(k.in("text_embeds"), k.in("time_ids")), seen::put, null);
        for (String n : k.outputs("intermediate.")) {
            NDArray a = seen.get(n.substring("intermediate.".length()));
            assertTrue(a != null, "the UNet reports no stage named " + n);
            k.check(n, a);
        }
        k.check("sample", out);
    }

    /** The pipeline's Euler + CFG run with size conditioning, checked at every model call and step. */
    private void txt2img(Case k) throws Exception {
        JsonNode p = k.json().path("params");
        NDManager m = k.m();
        StableDiffusionXL.TextConditioning cond = model.encodePrompts(List.of(p.path("prompt").asText()), m);
        JsonNode neg = p.path("negative_prompt");
        StableDiffusionXL.TextConditioning pair = model.encodeNegative(neg.isTextual() ? List.of(neg.asText()) : null, cond, m)
                .concat(cond);
        k.check("prompt_embeds_cfg_batch", pair.context());
        k.check("add_text_embeds_cfg_batch", pair.pooled());
        JsonNode o = p.path("original_size"), c = p.path("crops_coords_top_left"), t = p.path("target_size");
        StableDiffusionXL.SizeIds size = new StableDiffusionXL.SizeIds(o.get(0).asInt(), o.get(1).asInt(),
                c.get(0).asInt(), c.get(1).asInt(), t.get(0).asInt(), t.get(1).asInt());
        NDArray timeIds = StableDiffusionXL.SizeIds.batch(List.of(size, size), m);
        k.check("add_time_ids", timeIds);

        Map<String, NDArray> seen = new HashMap<>();
        List<Float> timesteps = new ArrayList<>();
        TextToImage.ModelCall unet = SdxlTextToImage.modelCall(model, pair, timeIds);
        TextToImage.ModelCall probed = (in, ts) -> {
            NDArray out = unet.predict(in, ts);
            seen.put("unet_input." + timesteps.size(), ReferenceParityTest.keep(in));
            seen.put("unet_output." + timesteps.size(), ReferenceParityTest.keep(out));
            return out;
        };
        try (Sampler sampler = Samplers.create(SdxlTextToImage.DEFAULT_SAMPLER, model.schedule())) {
            NDArray latents = TextToImage.denoise(probed, sampler, k.in("initial_latents"), p.path("num_inference_steps").asInt(),
                    (float) p.path("guidance_scale").asDouble(), (mm, shape) -> fail("Euler draws no noise"), (i, ts, guided, next) -> {
                        timesteps.add(ts);
                        seen.put("latents_after_step." + i, ReferenceParityTest.keep(next));
                    });
            assertEquals(p.path("init_noise_sigma").asDouble(), sampler.initNoiseSigma(), 1e-6, "init_noise_sigma");
            float[] ts = new float[timesteps.size()];
            for (int i = 0; i < ts.length; i++) ts[i] = timesteps.get(i);
            k.check("timesteps", m.create(ts));
            k.check("sigmas", m.create(((EulerSampler) sampler).sigmas()));
            for (String prefix : new String[] {"unet_input.", "unet_output.", "latents_after_step."}) {
                List<String> names = k.outputs(prefix);
                assertEquals(ts.length, names.size(), prefix + " one per step");
                for (String n : names) k.check(n, seen.get(n));
            }
            k.check("final_latents", latents);
            k.check("decoded", model.vae().decode(latents.div(model.vae().config.scalingFactor())));
        }
    }

    /** kohya's SDXL step: VAE latents, both encoders, time ids, DDPM noising, epsilon MSE, gradients, AdamW. */
    private void trainStep(Case k) throws Exception {
        try (StableDiffusionXL fresh = StableDiffusionXL.load(fixture, manager.getDevice())) {
            AutoencoderKL vae = fresh.vae();
            NDArray latents;
            StableDiffusionXL.TextConditioning text;
            try (NoGrad ignored = new NoGrad()) {
                NDArray unscaled = vae.encode(k.in("image")).sample(k.in("latent_eps"));
                k.check("latents_unscaled", unscaled);
                latents = unscaled.mul(vae.config.scalingFactor());
                text = fresh.encode(k.in("input_ids_1"), k.in("input_ids_2"));
            }
            k.check("latents", latents);
            k.check("text_embedding", text.context());
            k.check("pooled", text.pooled());
            fresh.unet().setRequiresGrad(true);
            fresh.unet().setTraining(true);
            Noising.Noised noised = Noising.Noised.of(fresh.schedule(), latents, k.in("noise"), k.in("timesteps"));
            Objective.Outcome r;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                r = Objective.of(fresh.schedule(), false).compute(fresh.unet(), latents, noised, text.context(),
                        text.with(k.in("time_ids")), null, null);
                gc.backward(r.loss());
            }
            k.check("noisy_latents", noised.noisy());
            k.check("target", r.target());
            k.check("model_pred", r.prediction());
            k.check("loss", r.loss());
            k.check("loss_kohya_per_sample_then_mean", r.loss());
            ReferenceParityTest.gradientsAndAdamW(fresh.unet(), k);
        }
    }
}

package sdtrainer.pipeline;

import sdtrainer.Fixtures;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;
import sdtrainer.diffusion.DdimSampler;
import sdtrainer.diffusion.NoiseSchedule;
import sdtrainer.io.SafeTensors;
import sdtrainer.model.clip.ClipTextModel;
import sdtrainer.model.clip.ClipTokenizer;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.nn.NoGrad;
import sdtrainer.train.optim.AdamW;
import sdtrainer.train.optim.ParamGroup;
import sdtrainer.train.Noising;
import sdtrainer.train.Objective;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs every case of {@code <fixture>/reference/cases.json} against our implementation, dispatching on the
 * case's {@code kind}. The fixture directory comes from the system property {@code sdt.fixture}
 * (default ../shared/fixtures/tiny-sd15), so any fixture of the same format can be checked:
 * {@code mvn -B test -Dtest=ReferenceParityTest -Dsdt.fixture=/abs/path}.
 */
class ReferenceParityTest {
    private static final Path DEFAULT = Fixtures.TINY_SD15;
    private static Path fixture;
    private static NDManager manager;
    private static StableDiffusion model;

    @BeforeAll
    static void load() throws Exception {
        String prop = System.getProperty("sdt.fixture");
        fixture = prop == null || prop.isBlank() ? DEFAULT : Path.of(prop);
        if (prop == null || Path.of(prop).normalize().endsWith(DEFAULT.normalize())) {
            assumeTrue(Files.isDirectory(fixture), "fixture directory " + fixture + " absent");
        }
        assertTrue(Files.isDirectory(fixture), "fixture directory " + fixture + " does not exist");
        manager = NDManager.newBaseManager();
        model = StableDiffusion.load(fixture, manager.getDevice());
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
        if (manager != null) manager.close();
    }

    @TestFactory
    List<DynamicTest> everyCase() throws Exception {
        JsonNode cases = ModelDirectory.readJson(fixture.resolve("reference").resolve("cases.json")).get("cases");
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : cases) {
            String kind = c.path("kind").asText();
            tests.add(DynamicTest.dynamicTest(c.path("name").asText() + " (" + kind + ")", caseRunner(kind, c)));
        }
        assertTrue(!tests.isEmpty(), "cases.json lists no cases");
        return tests;
    }

    private Executable caseRunner(String kind, JsonNode c) {
        return () -> {
            try (NDManager m = manager.newSubManager();
                 SafeTensors ref = SafeTensors.open(fixture.resolve("reference").resolve(c.path("file").asText()))) {
                Case k = new Case(c, ref, m);
                switch (kind) {
                    case "tokenizer" -> tokenizer(k);
                    case "text_encoder" -> textEncoder(k);
                    case "unet" -> unet(k);
                    case "vae" -> vae(k);
                    case "ddpm" -> ddpm(k);
                    case "ddim_cfg" -> ddimCfg(k);
                    case "train_step" -> trainStep(k);
                    default -> fail("case '" + c.path("name").asText() + "' has kind '" + kind + "' that this suite does not know");
                }
            }
        };
    }

    /** One case: its JSON entry, its tensors, and a manager scoped to the case. */
    record Case(JsonNode json, SafeTensors ref, NDManager m) {
        NDArray in(String name) throws Exception {
            return ref.load("input." + name, m);
        }

        NDArray out(String name) throws Exception {
            return ref.load("output." + name, m);
        }

        /** The case's stated tolerance for an output, else 1e-4 x max(1, max |reference|). */
        void check(String name, NDArray actual) throws Exception {
            NDArray expected = out(name);
            assertEquals(expected.getShape(), actual.getShape(), name + " shape");
            double tol = stated(name);
            if (Double.isNaN(tol)) tol = 1e-4 * Math.max(1.0, expected.abs().max().getFloat());
            double err = expected.sub(actual).abs().max().getFloat();
            assertTrue(err <= tol, name + ": max abs error " + err + " > tolerance " + tol);
        }

        private double stated(String name) {
            JsonNode t = json.path("tolerance");
            if (t.isNumber()) return t.asDouble();
            if (t.path(name).isNumber()) return t.path(name).asDouble();
            JsonNode atol = json.path("tolerances").path(name);
            return atol.isNumber() ? atol.asDouble() : Double.NaN;
        }

        /** Every output tensor whose name starts with the prefix, in file order. */
        List<String> outputs(String prefix) {
            List<String> out = new ArrayList<>();
            for (String n : ref.names()) if (n.startsWith("output." + prefix)) out.add(n.substring("output.".length()));
            return out;
        }
    }

    /** Our tokenizer follows transformers with ftfy installed, so the ftfy variant must match exactly. */
    private void tokenizer(Case k) throws Exception {
        Path dir = fixture.resolve(k.json().path("tokenizer_dir").asText("tokenizer"));
        ClipTokenizer tok = ClipTokenizer.load(dir);
        JsonNode prompts = ModelDirectory.readJson(fixture.resolve("reference").resolve(k.json().path("json").asText())).get("prompts");
        long[] ids = k.ref().readLongs("output.input_ids.ftfy");
        long[] mask = k.ref().readLongs("output.attention_mask.ftfy");
        int len = (int) k.ref().info("output.input_ids.ftfy").shape()[1];
        assertEquals(prompts.size() * len, ids.length, "one row per prompt");
        for (int i = 0; i < prompts.size(); i++) {
            String text = prompts.get(i).path("text").asText();
            String label = "prompt " + i + " (" + prompts.get(i).path("id").asText() + ")";
            assertArrayEquals(java.util.Arrays.copyOfRange(ids, i * len, (i + 1) * len), tok.encodePadded(text), label + " ids");
            assertArrayEquals(java.util.Arrays.copyOfRange(mask, i * len, (i + 1) * len), tok.attentionMask(text), label + " mask");
        }
    }

    private void textEncoder(Case k) throws Exception {
        ClipTextModel te = model.textEncoder();
        ClipTextModel.Output o = te.forward(k.in("input_ids"));
        List<NDArray> hs = o.hiddenStates();
        k.check("last_hidden_state", o.lastHiddenState());
        k.check("pooler_output", o.pooled());
        k.check("penultimate_hidden_state", hs.get(hs.size() - 2));
        k.check("penultimate_final_layer_norm", te.finalLayerNorm(hs.get(hs.size() - 2)));
        for (String n : k.outputs("hidden_states.")) {
            k.check(n, hs.get(Integer.parseInt(n.substring("hidden_states.".length()))));
        }
    }

    private void unet(Case k) throws Exception {
        List<String> intermediates = k.outputs("intermediate.");
        java.util.Map<String, NDArray> seen = new java.util.HashMap<>();
        NDArray out = model.unet().forward(k.in("sample"), k.in("timestep"), k.in("encoder_hidden_states"), seen::put);
        for (String n : intermediates) {
            NDArray a = seen.get(n.substring("intermediate.".length()));
            assertTrue(a != null, "the UNet reports no stage named " + n);
            k.check(n, a);
        }
        k.check("sample", out);
    }

    private void vae(Case k) throws Exception {
        AutoencoderKL vae = model.vae();
        AutoencoderKL.Posterior p = vae.encode(k.in("image"));
        k.check("mean", p.mean());
        k.check("logvar", p.logvar());
        k.check("std", p.std());
        k.check("latent_sample", p.sample(k.in("eps")));
        k.check("decoded", vae.decode(p.mean()));
    }

    private void ddpm(Case k) throws Exception {
        NoiseSchedule s = model.schedule();
        NDManager m = k.m();
        k.check("alphas_cumprod", m.create(s.alphasCumprod()));
        k.check("betas", m.create(s.betas()));
        k.check("noisy", s.addNoise(k.in("latents"), k.in("noise"), k.in("timesteps")));
        k.check("velocity", s.velocity(k.in("latents"), k.in("noise"), k.in("timesteps")));
    }

    /** Full txt2img from the stored ids and initial noise, checked step by step. */
    private void ddimCfg(Case k) throws Exception {
        JsonNode p = k.json().path("params");
        NDArray cond = model.textEncoder().forward(k.in("prompt_input_ids")).lastHiddenState();
        NDArray uncond = model.textEncoder().forward(k.in("negative_input_ids")).lastHiddenState();
        k.check("prompt_embeds", cond);
        k.check("negative_prompt_embeds", uncond);
        List<Long> timesteps = new ArrayList<>();
        java.util.Map<String, NDArray> steps = new java.util.HashMap<>();
        NDArray latents = TextToImage.denoise(model, new DdimSampler(model.schedule()), cond, uncond, k.in("initial_latents"),
                p.path("num_inference_steps").asInt(), (float) p.path("guidance_scale").asDouble(), null, (i, t, guided, next) -> {
                    timesteps.add((long) t);
                    steps.put("guided_model_output." + i, keep(guided));
                    steps.put("latents_after_step." + i, keep(next));
                });
        assertArrayEquals(k.ref().readLongs("output.timesteps"), timesteps.stream().mapToLong(Long::longValue).toArray(), "timesteps");
        for (String n : k.outputs("guided_model_output.")) k.check(n, steps.get(n));
        for (String n : k.outputs("latents_after_step.")) k.check(n, steps.get(n));
        k.check("final_latents", latents);
        NDArray image01 = TextToImage.decodeToUnit(model, latents);
        k.check("decoded", model.vae().decode(latents.div(model.vae().config.scalingFactor())));
        k.check("image01", image01);
    }

    /** A copy that outlives the sampler's per-step scope. */
    private static NDArray keep(NDArray a) {
        NDArray copy = a.duplicate();
        NDScope.unregister(copy);
        return copy;
    }

    /** One UNet step on a fresh copy of the model: loss, gradients, and the AdamW update the case states. */
    private void trainStep(Case k) throws Exception {
        JsonNode adam = k.json().path("params").path("adamw");
        try (StableDiffusion fresh = StableDiffusion.load(fixture, manager.getDevice())) {
            NDManager m = k.m();
            NDArray ids = k.in("input_ids");
            NDArray context;
            try (NoGrad ignored = new NoGrad()) {
                context = fresh.textEncoder().forward(ids).lastHiddenState();
            }
            k.check("encoder_hidden_states", context);
            fresh.unet().setRequiresGrad(true);
            fresh.unet().setTraining(true);
            boolean v = k.json().path("params").path("prediction_type").asText("epsilon").equals("v_prediction");
            Noising.Noised noised = Noising.Noised.of(fresh.schedule(), k.in("latents"), k.in("noise"), k.in("timesteps"));
            Objective.Outcome r;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                r = Objective.of(fresh.schedule(), v).compute(fresh.unet(), k.in("latents"), noised, context, null, null);
                gc.backward(r.loss());
            }
            k.check("noisy_latents", noised.noisy());
            k.check("target", r.target());
            k.check("model_pred", r.prediction());
            k.check("loss", r.loss());
            java.util.Map<String, NDArray> params = new java.util.LinkedHashMap<>();
            fresh.unet().namedParameters().forEach((n, p) -> params.put(n, p.get()));
            NDArray convGrad = params.get("conv_in.weight").getGradient();
            convGrad.attach(m);
            k.check("conv_in.weight.grad", convGrad);
            k.check("conv_in.weight.grad_norm", convGrad.norm());
            double sq = 0;
            for (NDArray p : params.values()) {
                try (NDArray g = p.getGradient()) {
                    double n = g.norm().getFloat();
                    sq += n * n;
                }
            }
            k.check("total_grad_norm", m.create((float) Math.sqrt(sq)));
            k.check("conv_in.weight.before", params.get("conv_in.weight").duplicate());
            k.check("conv_in.bias.before", params.get("conv_in.bias").duplicate());
            JsonNode betas = adam.path("betas");
            AdamW opt = new AdamW(List.of(new ParamGroup("unet", params, adam.path("lr").asDouble())),
                    betas.path(0).asDouble(0.9), betas.path(1).asDouble(0.999), adam.path("eps").asDouble(1e-8),
                    adam.path("weight_decay").asDouble(1e-2));
            opt.step();
            k.check("conv_in.weight.after_adamw", params.get("conv_in.weight").duplicate());
            k.check("conv_in.bias.after_adamw", params.get("conv_in.bias").duplicate());
        }
    }
}

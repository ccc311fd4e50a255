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
import java.util.function.Function;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs every case of {@code <fixture>/reference/cases.json} against our implementation, dispatching on the
 * case's {@code kind}. The fixture directory comes from the system property {@code sdt.fixture}
 * (default ../shared/fixtures/tiny-sd15), so any fixture of the same format can be checked:
 * {@code mvn -B test -Dtest=ReferenceParityTest -Dsdt.fixture=/abs/path}. With {@code -Dsdt.single_file=FILE}
 * the model weights come from that original-layout file instead (configs still from the fixture); when its
 * weights are half precision, each tolerance is widened to {@link #HALF_TOLERANCE} of the output's range.
 */
class ReferenceParityTest {
    private static final Path DEFAULT = Fixtures.TINY_SD15;
    private static Path fixture;
    private static NDManager manager;
    private static StableDiffusion model;
    /** fp16 keeps 11 significant bits: outputs of rounded weights may differ by a few units of 2^-11 of their range. */
    static final double HALF_TOLERANCE = 0x1p-8;
    private static boolean halfWeights;

    @BeforeAll
    static void load() throws Exception {
        fixture = fixture("sdt.fixture", DEFAULT);
        manager = NDManager.newBaseManager();
        String singleFile = System.getProperty("sdt.single_file");
        if (singleFile == null || singleFile.isBlank()) {
            model = StableDiffusion.load(fixture, manager.getDevice());
        } else {
            Path file = Path.of(singleFile);
            model = StableDiffusion.load(new ModelSource(file, Optional.of(fixture), Optional.empty()), manager.getDevice());
            try (SafeTensors st = SafeTensors.open(file)) {
                halfWeights = st.names().stream().filter(n -> n.startsWith("model.diffusion_model."))
                        .anyMatch(n -> !st.info(n).dtype().equals("F32"));
            }
        }
    }

    @AfterAll
    static void close() {
        if (model != null) model.close();
        if (manager != null) manager.close();
    }

    @TestFactory
    List<DynamicTest> everyCase() throws Exception {
        return everyCase(fixture, manager, kind -> switch (kind) {
            case "tokenizer" -> k -> tokenizer(fixture, k);
            case "text_encoder" -> this::textEncoder;
            case "unet" -> this::unet;
            case "vae" -> k -> vae(model.vae(), k);
            case "ddpm" -> this::ddpm;
            case "ddim_cfg" -> this::ddimCfg;
            case "train_step" -> this::trainStep;
            default -> null;
        });
    }

    /**
     * The fixture directory a system property names, or the default one; the suite skips when the default is
     * absent and fails when a named one is.
     */
    static Path fixture(String property, Path defaultDir) {
        String prop = System.getProperty(property);
        Path dir = prop == null || prop.isBlank() ? defaultDir : Path.of(prop);
        if (dir.normalize().endsWith(defaultDir.normalize())) {
            assumeTrue(Files.isDirectory(dir), "fixture directory " + dir + " absent");
        }
        assertTrue(Files.isDirectory(dir), "fixture directory " + dir + " does not exist");
        return dir;
    }

    /** A check of one case kind. */
    interface Check {
        void run(Case k) throws Exception;
    }

    /**
     * One dynamic test per case of the fixture's cases.json, each run by the check {@code byKind} gives for its
     * {@code kind} (null: a kind the suite does not know, which fails) in a manager scoped to the case.
     */
    static List<DynamicTest> everyCase(Path fixture, NDManager manager, Function<String, Check> byKind) throws Exception {
        JsonNode cases = ModelDirectory.readJson(fixture.resolve("reference").resolve("cases.json")).get("cases");
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : cases) {
            String kind = c.path("kind").asText();
            String name = c.path("name").asText();
            Executable run = () -> {
                Check check = byKind.apply(kind);
                if (check == null) fail("case '" + name + "' has kind '" + kind + "' that this suite does not know");
                try (NDManager m = manager.newSubManager();
                     SafeTensors ref = SafeTensors.open(fixture.resolve("reference").resolve(c.path("file").asText()))) {
                    check.run(new Case(c, ref, m));
                }
            };
            tests.add(DynamicTest.dynamicTest(name + " (" + kind + ")", run));
        }
        assertTrue(!tests.isEmpty(), "cases.json lists no cases");
        return tests;
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
            if (halfWeights) tol = Math.max(tol, HALF_TOLERANCE * Math.max(1.0, expected.abs().max().getFloat()));
            double err = expected.sub(actual).abs().max().getFloat();
            if (System.getProperty("sdt.print_errors") != null) System.err.printf("%s err %.3g tol %.3g max %.3g%n", name, err, tol, expected.abs().max().getFloat());
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
    static void tokenizer(Path fixture, Case k) throws Exception {
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

    static void vae(AutoencoderKL vae, Case k) throws Exception {
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
    static NDArray keep(NDArray a) {
        NDArray copy = a.duplicate();
        NDScope.unregister(copy);
        return copy;
    }

    /** One UNet step on a fresh copy of the model: loss, gradients, and the AdamW update the case states. */
    private void trainStep(Case k) throws Exception {
        try (StableDiffusion fresh = StableDiffusion.load(fixture, manager.getDevice())) {
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
            gradientsAndAdamW(fresh.unet(), k);
        }
    }

    /**
     * After backward: conv_in's gradient and norm, the all-parameter gradient norm, and conv_in before and after
     * one AdamW step over every UNet parameter with the case's hyper-parameters.
     */
    static void gradientsAndAdamW(sdtrainer.nn.Module unet, Case k) throws Exception {
        JsonNode adam = k.json().path("params").path("adamw");
        NDManager m = k.m();
        java.util.Map<String, NDArray> params = new java.util.LinkedHashMap<>();
        unet.namedParameters().forEach((n, p) -> params.put(n, p.get()));
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

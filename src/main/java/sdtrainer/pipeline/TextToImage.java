package sdtrainer.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import sdtrainer.diffusion.ClassifierFreeGuidance;
import sdtrainer.diffusion.GaussianSource;
import sdtrainer.diffusion.Sampler;
import sdtrainer.diffusion.Samplers;
import sdtrainer.model.unet.UNet2DConditionModel;
import sdtrainer.model.vae.AutoencoderKL;
import sdtrainer.log.MemoryStats;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Noise;
import sdtrainer.nn.Scopes;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Collections;
import java.util.List;
import java.util.Locale;

/** txt2img as diffusers' StableDiffusionPipeline: a chosen sampler and classifier-free guidance. */
public final class TextToImage {

    /**
     * What to draw; width and height in pixels, divisible by the VAE x UNet downsampling; {@code sampler} one of
     * {@link Samplers#names()}.
     */
    public record Request(List<String> prompts, String negativePrompt, int width, int height, int steps,
                          float guidance, long seed, String sampler) {
        /** DDIM, the sampler of save points before samplers could be chosen. */
        public Request(List<String> prompts, String negativePrompt, int width, int height, int steps,
                       float guidance, long seed) {
            this(prompts, negativePrompt, width, height, steps, guidance, seed, "ddim");
        }
    }

    /**
     * Receives, after each model call i, the guided model output and the new latents. Both are freed when
     * the step's scope closes: copy what you keep and {@code NDScope.unregister} the copy.
     */
    public interface StepListener {
        void onStep(int i, float timestep, NDArray guided, NDArray latents);
    }

    private static final Logger LOG = LoggerFactory.getLogger(TextToImage.class);

    private TextToImage() {}

    /**
     * Generates images in [0, 1], [B, 3, H, W], owned by {@code m}. The initial latents and then every noise
     * draw of a stochastic sampler come from one generator seeded by the request.
     */
    public static NDArray generate(StableDiffusion sd, Request r, NDManager m) {
        try (NoGrad ignored = new NoGrad(); Sampler sampler = Samplers.create(r.sampler(), sd.schedule())) {
            int b = r.prompts().size();
            Shape shape = latentShape(sd.unet(), sd.vae(), b, r.width(), r.height());
            long t0 = System.nanoTime();
            NDArray cond = sd.encodePrompts(r.prompts(), m);
            NDArray uncond = sd.encodePrompts(Collections.nCopies(b, r.negativePrompt()), m);
            Noise noise = new Noise(r.seed());
            NDArray latents = noise.gaussian(m, shape, m.getDevice());
            long t1 = System.nanoTime();
            NDArray out = denoise(sd, sampler, cond, uncond, latents, r.steps(), r.guidance(),
                    (mm, s) -> noise.gaussian(mm, s, mm.getDevice()), null);
            long t2 = System.nanoTime();
            NDArray images = decodeToUnit(sd, out);
            out.close();
            long t3 = System.nanoTime();
            LOG.info(String.format(Locale.ROOT, "sample %dx%d x%d, %s: text %.0f ms, denoise %.3f s/step (%d steps), decode %.0f ms, peak RSS %.0f MiB",
                    r.width(), r.height(), b, r.sampler(), (t1 - t0) / 1e6, (t2 - t1) / 1e9 / r.steps(), r.steps(), (t3 - t2) / 1e6,
                    MemoryStats.peakRssMb()));
            return images;
        }
    }

    /**
     * The sampling loop: latents * init_noise_sigma, then per model call the UNet once on the scaled
     * [uncond, cond] pair, guidance, and the sampler's step. Each call runs in its own {@link NDScope}, so its
     * intermediates are freed whichever manager they landed in; the returned latents belong to the manager of
     * {@code latents}.
     */
    public static NDArray denoise(StableDiffusion sd, Sampler sampler, NDArray cond, NDArray uncond, NDArray latents,
                                  int steps, float guidance, GaussianSource noise, StepListener listener) {
        // the UNet may compute in float16 (--amp); the sampler's arithmetic stays in float32
        DataType dt = sd.unet().dataType();
        NDArray context = uncond.concat(cond, 0).toType(dt, false);
        return denoise((in, t) -> sd.unet().forward(in.toType(dt, false), t, context), sampler, latents, steps, guidance,
                noise, listener);
    }

    /** The model's raw prediction for the scaled [uncond, cond] latents at timesteps t [2B]. */
    @FunctionalInterface
    public interface ModelCall {
        NDArray predict(NDArray scaledPair, NDArray t);
    }

    /** The sampling loop above for any conditioned model (SDXL's UNet takes added conditions too). */
    public static NDArray denoise(ModelCall model, Sampler sampler, NDArray latents, int steps, float guidance,
                                  GaussianSource noise, StepListener listener) {
        NDManager owner = latents.getManager();
        float[] timesteps = sampler.setTimesteps(steps);
        long b = latents.getShape().get(0);
        NDArray x = latents.mul(sampler.initNoiseSigma());
        try (NoGrad ignored = new NoGrad()) {
            for (int i = 0; i < timesteps.length; i++) {
                try (NDScope scope = new NDScope()) {
                    NDArray in = sampler.scaleModelInput(x.concat(x, 0), i);
                    NDArray t = owner.full(new Shape(2 * b), timesteps[i], DataType.FLOAT32, in.getDevice());
                    NDList parts = model.predict(in, t).toType(DataType.FLOAT32, false).split(2, 0);
                    NDArray guided = ClassifierFreeGuidance.guide(parts.get(0), parts.get(1), guidance);
                    NDArray next = sampler.step(guided, i, x, noise);
                    if (listener != null) listener.onStep(i, timesteps[i], guided, next);
                    NDScope.unregister(next);
                    next.attach(owner);
                    x.close();
                    x = next;
                }
            }
        }
        return x;
    }

    /** The latents' shape for images of width x height; both must be multiples of the VAE x UNet downsampling. */
    static Shape latentShape(UNet2DConditionModel unet, AutoencoderKL vae, int batch, int width, int height) {
        int f = vae.config.downsamplingFactor();
        int lf = f * unet.config.downsamplingFactor();
        if (width % lf != 0 || height % lf != 0) {
            throw new IllegalArgumentException("width and height must be multiples of " + lf + " for this model, got "
                    + width + "x" + height);
        }
        return new Shape(batch, unet.config.inChannels(), height / f, width / f);
    }

    /** vae.decode(latents / scaling_factor), mapped from [-1, 1] to [0, 1] and clamped. */
    public static NDArray decodeToUnit(StableDiffusion sd, NDArray latents) {
        return decodeToUnit(sd.vae(), latents);
    }

    public static NDArray decodeToUnit(AutoencoderKL vae, NDArray latents) {
        try (NoGrad ignored = new NoGrad()) {
            // one image at a time (diffusers' VAE slicing): the decoder's full-resolution activations are the
            // peak of a sample run, and each image's decode is independent of the others
            NDList images = new NDList();
            for (long i = 0; i < latents.getShape().get(0); i++) {
                NDArray one = latents.get(new NDIndex("{}:{}", i, i + 1));
                images.add(Scopes.compute(() -> {
                    NDArray z = one.div(vae.config.scalingFactor()).toType(vae.dataType(), false);
                    NDArray decoded = vae.decode(z).toType(DataType.FLOAT32, false);
                    return decoded.div(2f).add(0.5f).clip(0f, 1f);
                }));
            }
            return images.size() == 1 ? images.get(0) : NDArrays.concat(images, 0);
        }
    }
}

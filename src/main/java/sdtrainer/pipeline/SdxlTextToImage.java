package sdtrainer.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import sdtrainer.diffusion.Sampler;
import sdtrainer.diffusion.Samplers;
import sdtrainer.model.unet.AddedConditions;
import sdtrainer.nn.NoGrad;
import sdtrainer.nn.Noise;
import sdtrainer.pipeline.StableDiffusionXL.SizeIds;
import sdtrainer.pipeline.StableDiffusionXL.TextConditioning;

import java.util.Collections;
import java.util.List;

/** txt2img as diffusers' StableDiffusionXLPipeline: both encoders, size conditioning, a sampler, guidance. */
public final class SdxlTextToImage {
    /** SDXL's pipeline default scheduler. */
    public static final String DEFAULT_SAMPLER = "euler";

    /**
     * What to draw. {@code negativePrompt} null means none (zero negative conditioning when the model's
     * force_zeros_for_empty_prompt is set, as diffusers); {@code size} null means original = target = the image
     * size, no crop.
     */
    public record Request(List<String> prompts, String negativePrompt, int width, int height, int steps,
                          float guidance, long seed, String sampler, SizeIds size) {}

    private SdxlTextToImage() {}

    /** Generates images in [0, 1], [B, 3, H, W], owned by {@code m}. */
    public static NDArray generate(StableDiffusionXL sd, Request r, NDManager m) {
        try (NoGrad ignored = new NoGrad(); Sampler sampler = Samplers.create(r.sampler(), sd.schedule())) {
            int b = r.prompts().size();
            Shape shape = TextToImage.latentShape(sd.unet(), sd.vae(), b, r.width(), r.height());
            TextConditioning cond = sd.encodePrompts(r.prompts(), m);
            TextConditioning uncond = sd.encodeNegative(
                    r.negativePrompt() == null ? null : Collections.nCopies(b, r.negativePrompt()), cond, m);
            SizeIds size = r.size() != null ? r.size() : SizeIds.uncropped(r.height(), r.width());
            Noise noise = new Noise(r.seed());
            NDArray latents = noise.gaussian(m, shape, m.getDevice());
            NDArray out = TextToImage.denoise(modelCall(sd, uncond.concat(cond), SizeIds.batch(Collections.nCopies(2 * b, size), m)),
                    sampler, latents, r.steps(), r.guidance(), (mm, s) -> noise.gaussian(mm, s, mm.getDevice()), null);
            return TextToImage.decodeToUnit(sd.vae(), out);
        }
    }

    /**
     * The UNet call of the guidance loop for the [uncond, cond] conditioning {@code pair} and its time ids [2B, 6]
     * (negative rows first); computes in the UNet's dtype.
     */
    public static TextToImage.ModelCall modelCall(StableDiffusionXL sd, TextConditioning pair, NDArray timeIds) {
        DataType dt = sd.unet().dataType();
        NDArray context = pair.context().toType(dt, false);
        AddedConditions added = new AddedConditions(pair.pooled().toType(dt, false), timeIds);
        return (in, t) -> sd.unet().forward(in.toType(dt, false), t, context, added, null, null);
    }
}

package sdtrainer.model.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import sdtrainer.nn.Conv2d;
import sdtrainer.nn.Module;
import sdtrainer.nn.Ops;

/** diffusers AutoencoderKL: encoder + quant_conv to a diagonal Gaussian, post_quant_conv + decoder back. */
public final class AutoencoderKL extends Module {

    /** The posterior: mean and log-variance (clamped to [-30, 20] as diffusers), std = exp(logvar / 2). */
    public record Posterior(NDArray mean, NDArray logvar) {
        public NDArray std() {
            return logvar.mul(0.5f).exp();
        }

        /** mean + std * eps for a given standard-normal eps (the caller owns the generator). */
        public NDArray sample(NDArray eps) {
            return mean.add(std().mul(eps));
        }
    }

    public final VaeConfig config;
    final Encoder encoder;
    final Decoder decoder;
    final Conv2d quant_conv, post_quant_conv;

    public AutoencoderKL(VaeConfig c) {
        this.config = c;
        encoder = child("encoder", new Encoder(c));
        decoder = child("decoder", new Decoder(c));
        quant_conv = child("quant_conv", new Conv2d(2 * c.latentChannels(), 2 * c.latentChannels(), 1, 1, 0));
        post_quant_conv = child("post_quant_conv", new Conv2d(c.latentChannels(), c.latentChannels(), 1, 1, 0));
    }

    /** Encodes images in [-1, 1], [B, 3, H, W] with H, W divisible by the downsampling factor. */
    public Posterior encode(NDArray image) {
        NDList moments = Ops.inChannelsLast(image, x -> quant_conv.forward(encoder.forward(x))).split(2, 1);
        return new Posterior(moments.get(0), moments.get(1).clip(-30f, 20f));
    }

    /** Decodes unscaled latents (divide scaled latents by the scaling factor first) to images in about [-1, 1]. */
    public NDArray decode(NDArray z) {
        return decoder.forward(post_quant_conv.forward(z));
    }
}

"""The reference txt2img: what diffusers 0.21.4's StableDiffusionPipeline does after encoding the prompt (DDIM,
classifier-free guidance on a doubled batch, VAE decode), with diffusers' own UNet, VAE and DDIMScheduler, under
torch.no_grad as the pipeline runs. transformers is not installed here, so the prompt embeddings are fixed
random tensors of the text encoder's shape (text encoding is timed separately by both tools).

usage: ref_sample.py MODEL_DIR [--steps 12] [--count 2] [--size 256]
Prints load, denoise (s/step) and decode seconds and the peak RSS.
"""
import argparse, json, os, resource, time
import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from safetensors.torch import load_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--count", type=int, default=2)
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    t0 = time.perf_counter()
    unet = UNet2DConditionModel.from_pretrained(a.model, subfolder="unet").eval()
    vae = AutoencoderKL.from_pretrained(a.model, subfolder="vae").eval()
    sched = DDIMScheduler.from_pretrained(a.model, subfolder="scheduler")
    # the pipeline holds the text encoder too: keep its weights in memory as it would
    text_encoder_weights = load_file(os.path.join(a.model, "text_encoder", "model.safetensors"))
    t1 = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    cond = torch.randn(a.count, 77, unet.config.cross_attention_dim, generator=g)
    uncond = torch.randn(a.count, 77, unet.config.cross_attention_dim, generator=g)
    f = 2 ** (len(vae.config.block_out_channels) - 1)
    with torch.no_grad():
        emb = torch.cat([uncond, cond])
        latents = torch.randn(a.count, unet.config.in_channels, a.size // f, a.size // f, generator=g) * sched.init_noise_sigma
        sched.set_timesteps(a.steps)
        for t in sched.timesteps:
            x = sched.scale_model_input(torch.cat([latents] * 2), t)
            noise = unet(x, t, encoder_hidden_states=emb).sample
            u, c = noise.chunk(2)
            latents = sched.step(u + 7.5 * (c - u), t, latents).prev_sample
        t2 = time.perf_counter()
        image = vae.decode(latents / vae.config.scaling_factor).sample
        image = (image / 2 + 0.5).clamp(0, 1)
        t3 = time.perf_counter()
    print(json.dumps({"load_s": t1 - t0, "denoise_s": t2 - t1, "s_per_step": (t2 - t1) / a.steps, "decode_s": t3 - t2,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "steps": a.steps,
                      "count": a.count, "size": a.size, "text_encoder_tensors": len(text_encoder_weights), "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()

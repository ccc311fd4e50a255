"""The reference latent cache: the original sd-trainer's preprocess/latent.py (main_batch, 2023) on the CPU in
float32 (the original ran its VAE in float16 on CUDA, which CPUs do not run): per bucket of buckets.json,
batches of --batch_size PNGs opened with PIL, ToTensor + Normalize(0.5, 0.5) (done here with numpy, torchvision
not being installed), diffusers' AutoencoderKL.encode(x).latent_dist.sample(), one .npy per image.

usage: ref_latent.py -d DIR -o OUT -m MODEL_DIR [-b 10]
Prints images/s of the encode loop; time the whole process from outside for start-up included.
"""
import argparse, json, os, time
import numpy as np
import torch
from PIL import Image
from diffusers import AutoencoderKL


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--directory", "-d", required=True)
    ap.add_argument("--output_path", "-o", required=True)
    ap.add_argument("--model", "-m", required=True)
    ap.add_argument("--batch_size", "-b", type=int, default=10)
    a = ap.parse_args()
    t0 = time.perf_counter()
    vae = AutoencoderKL.from_pretrained(a.model, subfolder="vae")
    vae.eval()
    os.makedirs(a.output_path, exist_ok=True)
    with open(os.path.join(a.directory, "buckets.json")) as f:
        buckets = json.load(f)
    t1 = time.perf_counter()
    n = 0

    def encode(images, files):
        with torch.no_grad():
            latents = vae.encode(torch.stack(images)).latent_dist.sample().float().numpy()
        for i, stem in enumerate(files):
            np.save(os.path.join(a.output_path, stem + ".npy"), latents[i])

    for key in buckets:
        images, files = [], []
        for stem in buckets[key]:
            image = np.asarray(Image.open(os.path.join(a.directory, stem + ".png")).convert("RGB"), dtype=np.float32)
            images.append(torch.from_numpy(image / 255.0).permute(2, 0, 1).sub(0.5).div(0.5))
            files.append(stem)
            if len(files) == a.batch_size:
                encode(images, files)
                n += len(files)
                images, files = [], []
        if files:
            encode(images, files)
            n += len(files)
    t2 = time.perf_counter()
    print(json.dumps({"images": n, "load_s": t1 - t0, "encode_s": t2 - t1, "images_per_second": n / (t2 - t1),
                      "torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()

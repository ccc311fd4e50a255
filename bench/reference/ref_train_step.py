"""The reference training step: diffusers' UNet2DConditionModel forward, MSE loss, backward and
torch.optim.AdamW, on synthetic latents and text embeddings, timed after --warmup untimed steps (default 2) by phase, the work
`sd-trainer bench` does (text encoding excepted: the embeddings are fixed, as they are cached by the trainers).

usage: ref_train_step.py MODEL_DIR [--batch 2] [--resolution 256] [--steps 10] [--warmup 2] [--lora RANK]
--lora trains rank-R LoRA on every Linear and 1x1 Conv2d inside the attention blocks (kohya's default
targets, Transformer2DModel), the base frozen, as kohya's networks/lora.py does.
"""
import argparse, json, resource, time
import torch
from diffusers import UNet2DConditionModel


class LoRA(torch.nn.Module):
    def __init__(self, base, rank):
        super().__init__()
        self.base = base
        conv = isinstance(base, torch.nn.Conv2d)
        i, o = (base.in_channels, base.out_channels) if conv else (base.in_features, base.out_features)
        self.down = torch.nn.Conv2d(i, rank, 1, bias=False) if conv else torch.nn.Linear(i, rank, bias=False)
        self.up = torch.nn.Conv2d(rank, o, 1, bias=False) if conv else torch.nn.Linear(rank, o, bias=False)
        torch.nn.init.zeros_(self.up.weight)

    def forward(self, x, *args, **kwargs):  # diffusers passes its own LoRA scale to its Linear layers
        return self.base(x, *args, **kwargs) + self.up(self.down(x))


def add_lora(unet, rank):
    params = []
    for block in [m for m in unet.modules() if type(m).__name__ == "Transformer2DModel"]:
        for name, child in list(block.named_modules()):
            if isinstance(child, torch.nn.Linear) or (isinstance(child, torch.nn.Conv2d) and child.kernel_size == (1, 1)):
                parent = block.get_submodule(name.rsplit(".", 1)[0]) if "." in name else block
                lora = LoRA(child, rank)
                setattr(parent, name.rsplit(".", 1)[-1], lora)
                params += [lora.down.weight, lora.up.weight]
    return params


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--lora", type=int, default=0)
    a = ap.parse_args()
    torch.manual_seed(0)
    unet = UNet2DConditionModel.from_pretrained(a.model, subfolder="unet")
    unet.train()
    if a.lora:
        unet.requires_grad_(False)
        params = add_lora(unet, a.lora)
    else:
        params = list(unet.parameters())
    opt = torch.optim.AdamW(params, lr=1e-5)
    h = a.resolution // 8
    lat = torch.randn(a.batch, unet.config.in_channels, h, h)
    emb = torch.randn(a.batch, 77, unet.config.cross_attention_dim)
    phases = {"unet_forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        noise = torch.randn_like(lat)
        t = torch.randint(0, 1000, (a.batch,))
        pred = unet(lat + noise, t, emb).sample
        loss = torch.nn.functional.mse_loss(pred, noise)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
        t3 = time.perf_counter()
        if step >= a.warmup:
            phases["unet_forward"] += (t1 - t0) * 1000
            phases["backward"] += (t2 - t1) * 1000
            phases["optimizer"] += (t3 - t2) * 1000
    ms = sum(phases.values()) / a.steps
    print(json.dumps({"samples_per_second": a.batch * 1000 / ms, "ms_per_step": ms,
                      "split_ms": {k: v / a.steps for k, v in phases.items()},
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "torch": torch.__version__, "threads": torch.get_num_threads(), "lora": a.lora, "warmup": a.warmup}))


if __name__ == "__main__":
    main()

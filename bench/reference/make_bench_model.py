"""Writes the SD-shaped benchmark model (an 18 M-parameter UNet at SD1.5's layout, a VAE that downsamples by 8,
a 4-layer CLIP text encoder of width 256) as a diffusers folder, randomly initialised with torch's defaults.

usage: make_bench_model.py OUT_DIR TOKENIZER_DIR   (TOKENIZER_DIR: any CLIP tokenizer folder, e.g. the fixtures')
"""
import json, os, shutil, sys
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import save_file

WIDTH, LAYERS, HEADS = 256, 4, 4


def clip_weights(vocab, positions):
    g = torch.Generator().manual_seed(2)
    w = {}
    def put(name, *shape, std=0.02):
        w["text_model." + name] = torch.randn(*shape, generator=g) * std
    put("embeddings.token_embedding.weight", vocab, WIDTH)
    put("embeddings.position_embedding.weight", positions, WIDTH, std=0.01)
    for i in range(LAYERS):
        p = f"encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            put(p + f"self_attn.{proj}.weight", WIDTH, WIDTH)
            put(p + f"self_attn.{proj}.bias", WIDTH)
        put(p + "mlp.fc1.weight", 4 * WIDTH, WIDTH)
        put(p + "mlp.fc1.bias", 4 * WIDTH)
        put(p + "mlp.fc2.weight", WIDTH, 4 * WIDTH)
        put(p + "mlp.fc2.bias", WIDTH)
        for ln in ("layer_norm1", "layer_norm2"):
            w[f"text_model.{p}{ln}.weight"] = torch.ones(WIDTH)
            w[f"text_model.{p}{ln}.bias"] = torch.zeros(WIDTH)
    w["text_model.final_layer_norm.weight"] = torch.ones(WIDTH)
    w["text_model.final_layer_norm.bias"] = torch.zeros(WIDTH)
    w["text_model.embeddings.position_ids"] = torch.arange(positions).unsqueeze(0)
    return w


def main(out, tokenizer):
    torch.manual_seed(0)
    unet = UNet2DConditionModel(block_out_channels=(32, 64, 128, 256), cross_attention_dim=WIDTH,
                                attention_head_dim=8, sample_size=32)
    unet.save_pretrained(os.path.join(out, "unet"))
    torch.manual_seed(1)
    vae = AutoencoderKL(block_out_channels=(32, 64, 128, 128), down_block_types=["DownEncoderBlock2D"] * 4,
                        up_block_types=["UpDecoderBlock2D"] * 4, latent_channels=4, layers_per_block=2, sample_size=256)
    vae.save_pretrained(os.path.join(out, "vae"))
    vocab = len(json.load(open(os.path.join(tokenizer, "vocab.json"))))
    os.makedirs(os.path.join(out, "text_encoder"), exist_ok=True)
    save_file(clip_weights(vocab, 77), os.path.join(out, "text_encoder", "model.safetensors"))
    json.dump({"architectures": ["CLIPTextModel"], "model_type": "clip_text_model", "hidden_size": WIDTH,
               "intermediate_size": 4 * WIDTH, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
               "max_position_embeddings": 77, "vocab_size": vocab, "hidden_act": "quick_gelu",
               "layer_norm_eps": 1e-5, "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1,
               "projection_dim": WIDTH, "torch_dtype": "float32"},
              open(os.path.join(out, "text_encoder", "config.json"), "w"), indent=2)
    shutil.copytree(tokenizer, os.path.join(out, "tokenizer"), dirs_exist_ok=True)
    os.makedirs(os.path.join(out, "scheduler"), exist_ok=True)
    json.dump({"_class_name": "PNDMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
               "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
               "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "clip_sample": False},
              open(os.path.join(out, "scheduler", "scheduler_config.json"), "w"), indent=2)
    json.dump({"_class_name": "StableDiffusionPipeline", "scheduler": ["diffusers", "PNDMScheduler"],
               "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
               "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]},
              open(os.path.join(out, "model_index.json"), "w"), indent=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

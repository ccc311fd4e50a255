"""Expected ss_* values for LoraMetadataTest, spelled by Python itself.

The keys and the expressions that build them follow kohya-ss/sd-scripts at commit 48d368fa (train_network.py,
the metadata dict of train(); library/train_util.py prepare_dataset_args and set_tag_frequency): each value is the
Python object kohya holds for the run LoraMetadataTest trains, turned into text as kohya does (str(v), json.dumps).
Keys that depend on the clock, the session or the base model's bytes are left out. Run: python3 generate.py
"""
import json

# the test's run: --lora 4 --lora_alpha 2 --conv_dim 2 --conv_alpha 1 --resolution 32 --batch_size 2 --epochs 2
# --seed 7 --lr 1e-4 --optimizer adamw --optimizer_args weight_decay=0.01,betas=0.9,0.99 --noise_offset 0.05
# --min_snr_gamma 5 --clip_skip 2 --shuffle_caption --keep_tokens 1 --step_range 0.1,0.9 --max_grad_norm 1
# on 3 images in a folder named "bilder-ä" with the captions below
captions = ["a red circle, Shape", "a blue square, shape", "a green circle"]
resolution = tuple(int(r) for r in "32,32".split(","))
optimizer_kwargs = {"weight_decay": 0.01, "betas": (0.9, 0.99)}

tag_frequency = {}
for caption in captions:
    for tag in caption.split(","):
        tag = tag.strip()
        if tag:
            tag = tag.lower()
            tag_frequency[tag] = tag_frequency.get(tag, 0) + 1

metadata = {
    "ss_output_name": "meta-lora",
    "ss_learning_rate": 1e-4,
    "ss_unet_lr": 1e-4,
    "ss_num_train_images": 3,
    "ss_num_validation_images": 0,
    "ss_num_reg_images": 0,
    "ss_num_batches_per_epoch": 2,
    "ss_num_epochs": 2,
    "ss_gradient_checkpointing": False,
    "ss_gradient_accumulation_steps": 1,
    "ss_max_train_steps": 4,
    "ss_lr_scheduler": "constant",
    "ss_network_module": "networks.lora",
    "ss_network_dim": 4,
    "ss_network_alpha": 2.0,
    "ss_network_dropout": None,
    "ss_mixed_precision": "no",
    "ss_full_fp16": False,
    "ss_v2": False,
    "ss_base_model_version": "sd_v1",
    "ss_clip_skip": 2,
    "ss_max_token_length": None,
    "ss_cache_latents": False,
    "ss_seed": 7,
    "ss_lowram": False,
    "ss_noise_offset": 0.05,
    "ss_multires_noise_iterations": None,
    "ss_multires_noise_discount": 0.3,
    "ss_adaptive_noise_scale": None,
    "ss_zero_terminal_snr": False,
    "ss_training_comment": None,
    "ss_optimizer": "torch.optim.adamw.AdamW" + "(" + ",".join(f"{k}={v}" for k, v in optimizer_kwargs.items()) + ")",
    "ss_max_grad_norm": 1.0,
    "ss_caption_dropout_rate": 0.0,
    "ss_caption_dropout_every_n_epochs": 0,
    "ss_caption_tag_dropout_rate": 0.0,
    "ss_face_crop_aug_range": None,
    "ss_prior_loss_weight": 1.0,
    "ss_min_snr_gamma": 5.0,
    "ss_scale_weight_norms": None,
    "ss_ip_noise_gamma": None,
    "ss_debiased_estimation": False,
    "ss_noise_offset_random_strength": False,
    "ss_ip_noise_gamma_random_strength": False,
    "ss_loss_type": "l2",
    "ss_huber_schedule": "snr",
    "ss_huber_scale": 1.0,
    "ss_huber_c": 0.1,
    "ss_fp8_base": False,
    "ss_fp8_base_unet": False,
    "ss_batch_size_per_device": 2,
    "ss_total_batch_size": 2,
    "ss_resolution": resolution,
    "ss_color_aug": False,
    "ss_flip_aug": False,
    "ss_random_crop": False,
    "ss_shuffle_caption": True,
    "ss_enable_bucket": False,
    "ss_bucket_no_upscale": False,
    "ss_keep_tokens": 1,
    "ss_dataset_dirs": json.dumps({"bilder-ä": {"n_repeats": 1, "img_count": 3}}),
    "ss_reg_dataset_dirs": json.dumps({}),
    "ss_tag_frequency": json.dumps({"bilder-ä": tag_frequency}),
    "ss_bucket_info": json.dumps(None),
    "ss_network_args": json.dumps({"conv_dim": "2", "conv_alpha": "1"}),
    "ss_sd_model_name": "tiny-sd15",
    "ss_sd_model_hash": "IsADirectory",
    "ss_new_sd_model_hash": "IsADirectory",
    "ss_epoch": 2,
    "ss_steps": 4,
}
metadata = {k: str(v) for k, v in metadata.items()}
with open("expected.json", "w", encoding="utf-8") as f:
    json.dump(metadata, f, indent=1, sort_keys=True, ensure_ascii=False)
    f.write("\n")

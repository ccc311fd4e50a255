"""Reference data for the recipe tests, made by CALLING kohya sd-scripts' and diffusers' own functions.

Usage: /usr/bin/python3 make_reference.py KOHYA_DIR DIFFUSERS_OPTIMIZATION_PY > reference.json
  KOHYA_DIR: a checkout of kohya-ss/sd-scripts (library/train_util.py, library/custom_train_functions.py,
             library/strategy_base.py, train_network.py); the outputs here came from commit 48d368fa.
  DIFFUSERS_OPTIMIZATION_PY: src/diffusers/optimization.py of diffusers v0.21.4 (f5942649).
Debian python3-torch 1.13.1, CPU, torch.set_num_threads(1). kohya's modules import far more than these
functions need, so the named functions are taken from the source files (ast) and run as they are.
"""
import ast
import importlib.util
import json
import math
import os
import random
import sys
import tempfile
import types

import torch

torch.set_num_threads(1)
KOHYA, OPTIMIZATION = sys.argv[1], sys.argv[2]


def functions(path, names, namespace):
    """exec the top-level (or class-level) defs called `names` from `path` into `namespace`."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in names and node.name not in found:
            found[node.name] = node
    missing = set(names) - set(found)
    assert not missing, missing
    exec(compile(ast.Module(body=list(found.values()), type_ignores=[]), path, "exec"), namespace)
    return namespace


ns = {"torch": torch, "math": math, "random": random, "Optional": __import__("typing").Optional,
      "DDPMScheduler": object, "Number": float, "BaseSubset": object, "CLIPTokenizer": object, "re": __import__("re")}
functions(os.path.join(KOHYA, "library/custom_train_functions.py"),
          ["prepare_scheduler_for_custom_training", "fix_noise_scheduler_betas_for_zero_terminal_snr",
           "apply_snr_weight", "scale_v_prediction_loss_like_noise_prediction", "get_snr_scale",
           "add_v_prediction_like_loss", "apply_debiased_estimation", "apply_masked_loss"], ns)
ns["logger"] = types.SimpleNamespace(info=lambda *a, **k: None)
functions(os.path.join(KOHYA, "library/train_util.py"),
          ["get_huber_threshold_if_needed", "conditional_loss", "process_caption"], ns)
functions(os.path.join(KOHYA, "train_network.py"), ["post_process_loss"], ns)


def scheduler():
    """diffusers DDPMScheduler's scaled_linear tables for SD (beta 0.00085..0.012, 1000 steps), float32."""
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float32) ** 2
    alphas = 1.0 - betas
    return types.SimpleNamespace(betas=betas, alphas=alphas, alphas_cumprod=torch.cumprod(alphas, dim=0),
                                 config=types.SimpleNamespace(num_train_timesteps=1000))


def floats(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


out = {"generator": {"script": "make_reference.py", "kohya_sd_scripts": "48d368fa", "diffusers": "v0.21.4 f5942649",
                     "torch": torch.__version__}}

# ---- loss: conditional_loss -> apply_masked_loss -> mean over C,H,W -> post_process_loss -> mean
g = torch.Generator().manual_seed(77)
pred = torch.randn(4, 4, 8, 8, generator=g)
target = torch.randn(4, 4, 8, 8, generator=g)
mask = torch.rand(4, 8, 8, generator=g)
timesteps = torch.tensor([0, 37, 500, 999], dtype=torch.int64)
out["loss_inputs"] = {"pred": floats(pred), "target": floats(target), "mask": floats(mask),
                      "timesteps": timesteps.tolist(), "shape": [4, 4, 8, 8]}
cases = []
for name, kw in [
    ("l2_minsnr5_eps_mask", dict(loss_type="l2", min_snr_gamma=5.0, v=False, masked=True)),
    ("l1_constant_mask", dict(loss_type="l1", min_snr_gamma=None, v=False, masked=True)),
    ("huber_snr_minsnr5_scalev_debiased_v_mask", dict(loss_type="huber", huber_schedule="snr", min_snr_gamma=5.0,
                                                       scale_v=True, debiased=True, v=True, masked=True)),
    ("smooth_l1_exponential_debiased_eps", dict(loss_type="smooth_l1", huber_schedule="exponential", huber_c=0.2,
                                                 debiased=True, v=False, masked=False)),
    ("huber_constant_scale2_minsnr1_eps", dict(loss_type="huber", huber_schedule="constant", huber_scale=2.0,
                                               min_snr_gamma=1.0, v=False, masked=False)),
    ("ztsnr_huber_snr_minsnr5_debiased_v_mask", dict(loss_type="huber", huber_schedule="snr", min_snr_gamma=5.0,
                                                      debiased=True, v=True, masked=True, ztsnr=True)),
]:
    s = scheduler()
    # kohya's scripts: all_snr is cached first, the zero-terminal rescale comes after (README correction 1)
    ns["prepare_scheduler_for_custom_training"](s, "cpu")
    if kw.get("ztsnr"):
        ns["fix_noise_scheduler_betas_for_zero_terminal_snr"](s)
    args = types.SimpleNamespace(loss_type=kw["loss_type"], huber_schedule=kw.get("huber_schedule", "snr"),
                                 huber_c=kw.get("huber_c", 0.1), huber_scale=kw.get("huber_scale", 1.0),
                                 min_snr_gamma=kw.get("min_snr_gamma"), v_parameterization=kw["v"],
                                 scale_v_pred_loss_like_noise_pred=kw.get("scale_v", False), v_pred_like_loss=None,
                                 debiased_estimation_loss=kw.get("debiased", False))
    huber_c = ns["get_huber_threshold_if_needed"](args, timesteps, s)
    loss = ns["conditional_loss"](pred.float(), target.float(), args.loss_type, "none", huber_c)
    if kw["masked"]:
        loss = ns["apply_masked_loss"](loss, {"alpha_masks": mask})
    per_sample = loss.mean(dim=list(range(1, loss.ndim)))
    weighted = ns["post_process_loss"](None, per_sample, args, timesteps, s)
    cases.append({"name": name, "loss_type": args.loss_type, "huber_schedule": args.huber_schedule,
                  "huber_c": args.huber_c, "huber_scale": args.huber_scale, "min_snr_gamma": args.min_snr_gamma,
                  "v_prediction": args.v_parameterization, "scale_v_pred_loss_like_noise_pred": args.scale_v_pred_loss_like_noise_pred,
                  "debiased_estimation_loss": args.debiased_estimation_loss, "masked": kw["masked"],
                  "zero_terminal_snr": bool(kw.get("ztsnr")), "per_sample": floats(weighted),
                  "loss": float(weighted.mean())})
out["loss_cases"] = cases

# ---- learning-rate curves: diffusers' get_scheduler on a LambdaLR, lr 1e-3, as kohya's get_scheduler_fix calls it
pkg = tempfile.mkdtemp()
os.makedirs(os.path.join(pkg, "dopt", "utils"))
open(os.path.join(pkg, "dopt", "__init__.py"), "w").close()
open(os.path.join(pkg, "dopt", "utils", "__init__.py"), "w").write(
    "import logging as _l\nlogging = type('L', (), {'get_logger': staticmethod(_l.getLogger)})\n")
open(os.path.join(pkg, "dopt", "optimization.py"), "w").write(open(OPTIMIZATION, encoding="utf-8").read())
sys.path.insert(0, pkg)
optimization = importlib.import_module("dopt.optimization")
curves = []
for name, warmup, total, kwargs in [
    ("constant", 0, 40, {}), ("constant_with_warmup", 7, 40, {}), ("linear", 7, 40, {}), ("cosine", 7, 40, {}),
    ("cosine_with_restarts", 7, 40, {"num_cycles": 1}), ("cosine_with_restarts", 5, 40, {"num_cycles": 3}),
    ("cosine_with_restarts", 0, 37, {"num_cycles": 4}), ("polynomial", 7, 40, {"power": 1.0}),
    ("polynomial", 5, 40, {"power": 2.0}), ("polynomial", 0, 33, {"power": 0.5}),
]:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = optimization.get_scheduler(name, opt, num_warmup_steps=warmup, num_training_steps=total, **kwargs)
    lrs = []
    for _ in range(total + 5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    curves.append({"name": name, "warmup": warmup, "total": total, "lr": 1e-3, **kwargs, "lrs": lrs})
out["lr_curves"] = curves

# ---- captions: kohya's process_caption on the cases whose result does not depend on random draws
dataset = types.SimpleNamespace(current_epoch=1, current_step=0, max_train_steps=100, replacements={})
captions = []
for caption, opts in [
    ("1girl, solo, long hair, smile", {}),
    ("1girl, solo, long hair, smile", {"caption_prefix": "masterpiece,", "caption_suffix": ", best quality"}),
    ("1girl, solo, long hair, smile", {"caption_prefix": "sks"}),
    ("  1girl ,solo,  long hair ,smile  ", {"keep_tokens": 2, "caption_tag_dropout_rate": 1.0}),
    ("1girl, solo, long hair, smile", {"keep_tokens": 1, "caption_tag_dropout_rate": 1.0,
                                       "caption_prefix": "sks, style"}),
    ("a; b ;c;d", {"caption_separator": ";", "keep_tokens": 3, "caption_tag_dropout_rate": 1.0}),
    ("a; b ;c", {"caption_separator": ";", "shuffle_caption": True, "keep_tokens": 2}),
    ("tag one, tag two", {"shuffle_caption": True, "keep_tokens": 5}),
    ("tag one, tag two", {"caption_dropout_rate": 1.0, "caption_prefix": "p"}),
    ("only", {"shuffle_caption": True}),
    ("", {"shuffle_caption": True, "caption_prefix": "p"}),
    ("a,,b", {"keep_tokens": 3, "shuffle_caption": True}),
]:
    subset = types.SimpleNamespace(caption_prefix=None, caption_suffix=None, caption_dropout_rate=0.0,
                                   caption_dropout_every_n_epochs=0, enable_wildcard=False, shuffle_caption=False,
                                   token_warmup_step=0, caption_tag_dropout_rate=0.0, keep_tokens_separator="",
                                   caption_separator=",", keep_tokens=0, secondary_separator=None,
                                   token_warmup_min=1)
    for k, v in opts.items():
        setattr(subset, k, v)
    captions.append({"caption": caption, "options": opts, "result": ns["process_caption"](dataset, subset, caption)})
out["captions"] = captions

# ---- long-prompt chunks when pad != eos (SD 2.x): kohya's TokenizeStrategy._get_input_ids on padded ids of
# BOS, n content ids, EOS, then pad id 0 (a stand-in tokenizer returns them; the cut is kohya's code)
functions(os.path.join(KOHYA, "library/strategy_base.py"), ["_get_input_ids"], ns)


class PaddedIds:
    model_max_length, pad_token_id, eos_token_id, bos_token_id = 77, 0, 49407, 49406

    def __call__(self, text, padding, truncation, max_length, return_tensors):
        n = int(text)
        ids = [self.bos_token_id] + list(range(1, n + 1))[: max_length - 2] + [self.eos_token_id]
        ids += [self.pad_token_id] * (max_length - len(ids))
        return types.SimpleNamespace(input_ids=torch.tensor([ids], dtype=torch.int64))


chunk_cases = []
for max_length in (152, 227):
    for n in (0, 40, 74, 75, 76, 149, 150, 151, 224, 300):
        ids = PaddedIds()(str(n), "max_length", True, max_length, "pt").input_ids[0]
        chunked = ns["_get_input_ids"](None, PaddedIds(), str(n), max_length)
        chunk_cases.append({"content": n, "max_length": max_length, "padded": ids.tolist(), "chunks": chunked.tolist()})
out["sd2_chunks"] = {"eos": 49407, "pad": 0, "width": 77, "cases": chunk_cases}

json.dump(out, sys.stdout, indent=1)
print()

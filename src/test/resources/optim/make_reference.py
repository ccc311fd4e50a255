"""Reference optimizer steps for the optimizer tests, made by calling the published implementations.

Run with Debian bookworm's python3-torch (1.13.1):
  python3 make_reference.py BITSANDBYTES_CHECKOUT PRODIGY_CHECKOUT OUT_DIR
bitsandbytes @ 95f9af30 (create_dynamic_map in bitsandbytes/functional.py and the pure-PyTorch 8-bit
block-wise update in bitsandbytes/backends/triton/kernels_optim.py; those modules need packages this torch
lacks, so only the named functions are taken from the source and run), prodigyopt @ 3efb213
(prodigyopt/prodigy.py), torch.optim.SGD of torch 1.13. Inputs are drawn as the shared recipes fixtures
draw theirs (torch.Generator().manual_seed(555)).
"""
import ast, json, math, struct, sys, types
from typing import Optional
import torch

BNB, PRODIGY, OUT = sys.argv[1:4]


def functions_from(path, names):
    """Runs only the named top-level functions of a source file (decorators dropped) and returns them."""
    tree = ast.parse(open(path).read())
    keep = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in names]
    for n in keep:
        n.decorator_list = []
    ns = {"torch": torch, "math": math, "Optional": Optional}
    exec(compile(ast.Module(body=keep, type_ignores=[]), path, "exec"), ns)
    return {n: ns[n] for n in names}


def write(name, tensors, meta):
    header, blobs, offset = {"__metadata__": {"params": json.dumps(meta)}}, [], 0
    kinds = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.uint8: "U8"}
    for k in sorted(tensors):
        t = tensors[k].contiguous()
        b = t.numpy().tobytes()
        header[k] = {"dtype": kinds[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(f"{OUT}/{name}.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def inputs(shapes, steps):
    g = torch.Generator().manual_seed(555)
    params = [torch.randn(*s, generator=g) for s in shapes]
    grads = [[torch.randn(*s, generator=g) for s in shapes] for _ in range(steps)]
    return params, grads


def torch_case(name, shapes, steps, make, scalars=(), grad_of=None):
    """grad_of(param, given_grad): the gradient fed at each step (recorded), default the drawn one."""
    params, grads = inputs(shapes, steps)
    t = {f"input.param.{i}": p.clone() for i, p in enumerate(params)}
    ps = [torch.nn.Parameter(p.clone()) for p in params]
    opt = make(ps)
    meta = {"steps": steps, "scalars": {s: [] for s in scalars}}
    for s in range(steps):
        for i, p in enumerate(ps):
            if grad_of is not None:
                grads[s][i] = grad_of(p.detach(), grads[s][i])
            p.grad = grads[s][i].clone()
            t[f"input.grad.step{s}.{i}"] = grads[s][i]
        opt.step()
        for i, p in enumerate(ps):
            t[f"output.param.step{s}.{i}"] = p.detach().clone()
        for k in scalars:
            meta["scalars"][k].append(float(opt.param_groups[0][k]))
    write(name, t, meta)


sgd = torch.optim.SGD
torch_case("sgd_plain", [(4, 6), (6,)], 3, lambda ps: sgd(ps, lr=1e-2))
torch_case("sgd_momentum_dampening", [(4, 6), (6,)], 3,
           lambda ps: sgd(ps, lr=1e-2, momentum=0.9, dampening=0.1, weight_decay=1e-2))
torch_case("sgd_nesterov", [(4, 6), (6,)], 3,
           lambda ps: sgd(ps, lr=1e-2, momentum=0.9, nesterov=True, weight_decay=1e-2))

sys.path.insert(0, PRODIGY)
import prodigyopt
torch_case("prodigy_defaults_d", [(4, 6), (6,)], 3, lambda ps: prodigyopt.Prodigy(ps, lr=1.0, weight_decay=1e-2),
           ("d", "d_max", "d_numerator"))
torch_case("prodigy_d0_1e-2", [(4, 6), (6,)], 5,
           lambda ps: prodigyopt.Prodigy(ps, lr=1.0, d0=1e-2, weight_decay=1e-2, use_bias_correction=True,
                                         safeguard_warmup=True, d_coef=2.0), ("d", "d_max", "d_numerator"))
torch_case("prodigy_d0_1e-3_coupled_nobeta1", [(4, 6), (6,)], 4,
           lambda ps: prodigyopt.Prodigy(ps, lr=0.5, betas=(0.0, 0.99), d0=1e-3, weight_decay=1e-2, decouple=False),
           ("d", "d_max", "d_numerator"))
# gradients of 0.5 * |p - 3|^2 (plus some of the drawn noise): consistent directions, so d grows
torch_case("prodigy_quadratic_growing_d", [(4, 6), (6,)], 6,
           lambda ps: prodigyopt.Prodigy(ps, lr=1.0, d0=1e-4, use_bias_correction=True),
           ("d", "d_max", "d_numerator"), grad_of=lambda p, g: p - 3.0 + 0.1 * g)

# bitsandbytes: the dynamic codes and the 8-bit block-wise update (block size 256 in this reference).
fn = functions_from(f"{BNB}/bitsandbytes/functional.py", ["create_dynamic_map"])
signed, unsigned = fn["create_dynamic_map"](signed=True), fn["create_dynamic_map"](signed=False)
q = functions_from(f"{BNB}/bitsandbytes/backends/triton/kernels_optim.py",
                   ["_dequantize_blockwise_pytorch", "_quantize_blockwise_pytorch",
                    "optimizer_update_8bit_blockwise_pytorch"])
write("dynamic_map", {"output.signed": signed, "output.unsigned": unsigned}, {})


def bnb_case(name, opt_name, shape, steps, lr, beta1, beta2, eps, wd):
    g = torch.Generator().manual_seed(555)
    p = torch.randn(*shape, generator=g)
    grads = [torch.randn(*shape, generator=g) * (0.1 * (s + 1)) for s in range(steps)]
    n, bs = p.numel(), 256
    blocks = (n + bs - 1) // bs
    t = {"input.param": p.clone()}
    s1 = torch.zeros(shape, dtype=torch.uint8)
    a1 = torch.zeros(blocks)
    two = opt_name == "adam"
    s2 = torch.zeros(shape, dtype=torch.uint8) if two else None
    a2 = torch.zeros(blocks) if two else None
    for s in range(steps):
        t[f"input.grad.step{s}"] = grads[s]
        q["optimizer_update_8bit_blockwise_pytorch"](
            p, grads[s], s1, s2, beta1, beta2, 0.0, 0.0, eps, s + 1, lr, signed, unsigned if two else None,
            a1, a2, wd, 1.0, False, optimizer_name=opt_name)
        t[f"output.param.step{s}"] = p.clone()
        t[f"output.state1.step{s}"] = s1.clone()
        t[f"output.absmax1.step{s}"] = a1.clone()
        if two:
            t[f"output.state2.step{s}"] = s2.clone()
            t[f"output.absmax2.step{s}"] = a2.clone()
    write(name, t, {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": wd, "block_size": bs})


bnb_case("adamw8bit_blockwise", "adam", (10, 70), 4, 1e-3, 0.9, 0.999, 1e-8, 1e-2)
bnb_case("lion8bit_blockwise", "lion", (10, 70), 4, 1e-3, 0.9, 0.99, 0.0, 1e-2)

# Pure-Python stand-in for safetensors.torch (load_file/save_file), for the reference benchmarks only.
import json, mmap, struct, torch
_DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "F64": torch.float64}
_NAME = {v: k for k, v in _DT.items()}
def load_file(path, device="cpu"):
    # as the real one: the file mapped, each tensor copied out of the mapping, the mapping closed
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    out = {}
    try:
        for k, v in header.items():
            if k == "__metadata__": continue
            a, b = v["data_offsets"]
            dt = _DT[v["dtype"]]
            t = torch.empty(v["shape"], dtype=dt)
            if b > a:
                t.view(-1).view(torch.uint8).numpy()[:] = memoryview(mm)[8 + n + a:8 + n + b]
            out[k] = t
    finally:
        mm.close()
    return out
def save_file(tensors, path, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata: header["__metadata__"] = metadata
    for k in sorted(tensors):
        t = tensors[k].detach().contiguous().cpu()
        b = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[k] = {"dtype": _NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(header).encode(); h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for b in blobs: f.write(b)

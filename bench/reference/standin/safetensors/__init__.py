from . import torch  # noqa: F401  (diffusers reaches safetensors.torch after a bare import)

package sdtrainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.pytorch.jni.IValueUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * libtorch kernels that DJL has no op for (fused attention, group norm, SiLU, memory-format changes), reached
 * through a TorchScript module written here by hand (see {@link TorchScriptModule}), so no Python is needed. With autograd on, calls go through DJL's module forward in
 * training mode and so stay in the autograd graph. The module has no parameters, so one instance serves every device.
 */
final class TorchScriptKernels {
    private static final Logger LOG = LoggerFactory.getLogger(TorchScriptKernels.class);

    private static final String SOURCE = String.join("\n",
            "class Kernels(Module):",
            "  __parameters__ = []",
            "  __buffers__ = []",
            "  training : bool",
            "  def attention(self: __torch__.Kernels, q: Tensor, k: Tensor, v: Tensor) -> Tensor:",
            "    return torch.scaled_dot_product_attention(q, k, v)",
            "  def masked_attention(self: __torch__.Kernels, q: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:",
            "    return torch.scaled_dot_product_attention(q, k, v, mask)",
            "  def group_norm(self: __torch__.Kernels, x: Tensor, weight: Tensor, bias: Tensor, groups: Tensor, eps: Tensor) -> Tensor:",
            "    return torch.group_norm(x, int(groups), weight, bias, float(eps), True)",
            "  def group_norm_silu(self: __torch__.Kernels, x: Tensor, weight: Tensor, bias: Tensor, groups: Tensor, eps: Tensor) -> Tensor:",
            "    y = torch.group_norm(x, int(groups), weight, bias, float(eps), True)",
            "    if torch.is_grad_enabled():",
            "      return torch.silu(y)",
            "    return torch.silu_(y)",
            "  def channels_last(self: __torch__.Kernels, x: Tensor) -> Tensor:",
            "    return torch.contiguous(x, memory_format=2)",
            "  def contiguous(self: __torch__.Kernels, x: Tensor) -> Tensor:",
            "    return torch.contiguous(x)",
            "  def silu(self: __torch__.Kernels, x: Tensor) -> Tensor:",
            "    return torch.silu(x)",
            "");

    /**
     * The loaded module, its manager, and the arrays whose names tell DJL which of its methods to run
     * ({@code module_method:<name>}; they are never passed to the method).
     */
    private record Kernels(PtSymbolBlock module, PtNDManager manager, Map<String, NDArray> markers) {
        NDArray marker(String method) {
            return markers.get(method);
        }
    }

    private static final String[] METHODS = {"attention", "masked_attention", "group_norm", "group_norm_silu", "silu", "channels_last", "contiguous"};

    /** Loaded on first use, once per JVM (class initialisation is lazy and thread-safe); null if it failed. */
    private static final class Loaded {
        static final Kernels KERNELS = loadOrWarn();
    }

    private TorchScriptKernels() {}

    /**
     * torch.nn.functional.scaled_dot_product_attention on [B, heads, L, d] (fused kernels where libtorch has
     * them), with an additive {@code mask} or null; null when the kernels cannot be loaded.
     */
    static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray mask) {
        return mask == null ? call("attention", q, k, v) : call("masked_attention", q, k, v, mask);
    }

    /**
     * torch.group_norm of [N, C, ...] with per-channel weight and bias of x's dtype (one native kernel, forward
     * and backward), then torch.silu in the same call when {@code thenSilu}: without autograd in place on the
     * norm's output, with it on a tensor of its own (SiLU's backward needs its input). Null when the kernels
     * cannot be loaded.
     */
    static NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, float eps, boolean thenSilu) {
        Kernels kernels = Loaded.KERNELS;
        if (kernels == null) return null;
        return call(thenSilu ? "group_norm_silu" : "group_norm", x, weight, bias, constant(kernels, groups),
                constant(kernels, eps));
    }

    /** x in channels-last memory order (same values and shape); null when the kernels cannot be loaded. */
    static NDArray channelsLast(NDArray x) {
        return call("channels_last", x);
    }

    /** x in the default (row-major) memory order; null when the kernels cannot be loaded. */
    static NDArray contiguous(NDArray x) {
        return call("contiguous", x);
    }

    /** torch.silu (one kernel, where x * sigmoid(x) takes two); null when the kernels cannot be loaded. */
    static NDArray silu(NDArray x) {
        return call("silu", x);
    }

    /** Runs the method on the inputs; null when the kernels cannot be loaded. */
    private static NDArray call(String method, NDArray... args) {
        Kernels kernels = Loaded.KERNELS;
        if (kernels == null) return null;
        // the first input first: the result joins its manager
        NDList inputs = new NDList(args);
        inputs.add(kernels.marker(method));
        // with autograd off (sampling) DJL runs the method under its no-grad guard, building no graph
        return IValueUtils.forward(kernels.module(), inputs, JniUtils.isGradMode()).singletonOrThrow();
    }

    /** Scalar arguments travel as CPU tensors, made once per value and kept with the module. */
    private static final Map<Number, NDArray> CONSTANTS = new ConcurrentHashMap<>();

    private static NDArray constant(Kernels kernels, Number value) {
        return CONSTANTS.computeIfAbsent(value, v -> {
            NDArray a = v instanceof Integer i ? kernels.manager().create((long) i) : kernels.manager().create(v.floatValue());
            ai.djl.ndarray.NDScope.unregister(a);
            return a;
        });
    }

    private static Kernels loadOrWarn() {
        try {
            return load();
        } catch (IOException | RuntimeException e) {
            LOG.warn("fused attention unavailable, using matmul + softmax: {}", e.getMessage());
            return null;
        }
    }

    private static Kernels load() throws IOException {
        TorchScriptModule.Loaded loaded = TorchScriptModule.load("Kernels", SOURCE);
        PtNDManager manager = loaded.manager(); // the method markers live as long as the module
        Map<String, NDArray> markers = new HashMap<>();
        for (String method : METHODS) markers.put(method, methodMarker(manager, method));
        return new Kernels(loaded.module(), manager, markers);
    }

    private static NDArray methodMarker(PtNDManager manager, String method) {
        NDArray marker = manager.create(0f);
        marker.setName("module_method:" + method);
        ai.djl.ndarray.NDScope.unregister(marker); // the first call may come inside a training step's scope
        return marker;
    }
}

package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sdtrainer.nn.TorchScriptModule;

import java.io.IOException;
import java.util.List;

/**
 * Optimizer kernels DJL has no call for, in a hand-written TorchScript module: AdamW over all tensors in one
 * native call through torch's {@code _fused_adamw_} (torch.optim.AdamW(fused=True): one pass over each tensor,
 * where the per-tensor step makes nine); Lion and SGD as a loop over the tensors inside one call (no per-op trip
 * through JNI); and the block-wise 8-bit (de)quantisation of {@link BlockQuantizer}.
 */
final class OptimizerKernels {
    private static final Logger LOG = LoggerFactory.getLogger(OptimizerKernels.class);

    private static final String SOURCE = String.join("\n",
            "class OptimizerKernels(Module):",
            "  __parameters__ = []",
            "  __buffers__ = []",
            "  training : bool",
            "  def adamw(self: __torch__.OptimizerKernels, params: List[Tensor], grads: List[Tensor],",
            "            exp_avgs: List[Tensor], exp_avg_sqs: List[Tensor], steps: List[Tensor], lr: float,",
            "            beta1: float, beta2: float, weight_decay: float, eps: float) -> None:",
            "    torch._fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, beta1=beta1, beta2=beta2,",
            "                        weight_decay=weight_decay, eps=eps, amsgrad=False, maximize=False)",
            "  def lion(self: __torch__.OptimizerKernels, params: List[Tensor], grads: List[Tensor], exp_avgs: List[Tensor],",
            "           decay: float, neg_lr: float, beta1: float, one_minus_beta1: float, beta2: float, one_minus_beta2: float) -> None:",
            "    for i in range(torch.len(params)):",
            "      p = params[i]",
            "      g = grads[i]",
            "      m = exp_avgs[i]",
            "      torch.mul_(p, decay)",
            "      d = torch.sign_(torch.add_(torch.mul(m, beta1), torch.mul(g, one_minus_beta1)))",
            "      torch.add_(p, torch.mul_(d, neg_lr))",
            "      torch.add_(torch.mul_(m, beta2), torch.mul(g, one_minus_beta2))",
            "  def sgd(self: __torch__.OptimizerKernels, params: List[Tensor], grads: List[Tensor], bufs: List[Tensor],",
            "          steps: List[int], neg_lr: float, momentum: float, one_minus_dampening: float, weight_decay: float,",
            "          nesterov: bool) -> None:",
            "    for i in range(torch.len(params)):",
            "      p = params[i]",
            "      d = grads[i]",
            "      if weight_decay != 0.:",
            "        d = torch.add(d, torch.mul(p, weight_decay))",
            "      if momentum != 0.:",
            "        buf = bufs[i]",
            "        if steps[i] == 1:",
            "          torch.add_(buf, d)",
            "        else:",
            "          torch.add_(torch.mul_(buf, momentum), torch.mul(d, one_minus_dampening))",
            "        if nesterov:",
            "          d = torch.add(d, torch.mul(buf, momentum))",
            "        else:",
            "          d = buf",
            "      torch.add_(p, torch.mul(d, neg_lr))",
            "  def quantize(self: __torch__.OptimizerKernels, x: Tensor, bounds: Tensor, block: int, codes: Tensor, scales: Tensor) -> None:",
            "    flat = torch.reshape(x, [-1])",
            "    n = torch.numel(flat)",
            "    blocks = torch.floordiv(torch.add(n, torch.sub(block, 1)), block)",
            "    padded = torch.reshape(torch.constant_pad_nd(flat, [0, torch.sub(torch.mul(blocks, block), n)], 0.), [blocks, block])",
            "    absmax = torch.amax(torch.abs(padded), [1])",
            "    absmax = torch.where(torch.eq(absmax, 0.), torch.ones_like(absmax), absmax)",
            "    q = torch.bucketize(torch.div(padded, torch.unsqueeze(absmax, 1)), bounds)",
            "    q = torch.reshape(torch.slice(torch.reshape(torch.to(q, 0), [-1]), 0, 0, n), torch.size(x))",
            "    torch.copy_(codes, q)",
            "    torch.copy_(scales, absmax)",
            "  def dequantize(self: __torch__.OptimizerKernels, q: Tensor, absmax: Tensor, code: Tensor, block: int) -> Tensor:",
            "    n = torch.numel(q)",
            "    values = torch.index_select(code, 0, torch.to(torch.reshape(q, [-1]), 4))",
            "    blocks = torch.size(absmax, 0)",
            "    padded = torch.reshape(torch.constant_pad_nd(values, [0, torch.sub(torch.mul(blocks, block), n)], 0.), [blocks, block])",
            "    out = torch.reshape(torch.mul(padded, torch.unsqueeze(absmax, 1)), [-1])",
            "    return torch.reshape(torch.slice(out, 0, 0, n), torch.size(q))",
            "");

    /** Loaded on first use, once per JVM; null if it failed. */
    private static final class Loaded {
        static final PtSymbolBlock MODULE = loadOrWarn();
    }

    private OptimizerKernels() {}

    static boolean available() {
        return Loaded.MODULE != null;
    }

    /**
     * One AdamW step over tensors of one device and dtype, by torch's fused kernel; {@code steps} holds each
     * tensor's update count (this update included) as a float32 scalar on that device.
     */
    static void adamw(List<NDArray> params, List<NDArray> grads, List<NDArray> expAvgs, List<NDArray> expAvgSqs,
                      List<NDArray> steps, double lr, double beta1, double beta2, double weightDecay, double eps) {
        run("adamw", list(params), list(grads), list(expAvgs), list(expAvgSqs), list(steps), IValue.from(lr),
                IValue.from(beta1), IValue.from(beta2), IValue.from(weightDecay), IValue.from(eps)).close();
    }

    /**
     * One Lion step over the tensors, tensor after tensor inside one native call, op for op as {@link Lion#update}
     * (the scalars are the float32 values that step multiplies by, so the results are the same bits).
     */
    static void lion(List<NDArray> params, List<NDArray> grads, List<NDArray> expAvgs, float decay, float negLr,
                     float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2) {
        run("lion", list(params), list(grads), list(expAvgs), IValue.from((double) decay), IValue.from((double) negLr),
                IValue.from((double) beta1), IValue.from((double) oneMinusBeta1), IValue.from((double) beta2),
                IValue.from((double) oneMinusBeta2)).close();
    }

    /**
     * One SGD step over the tensors in one native call, op for op as {@link Sgd#update}; {@code bufs} is empty
     * without momentum, {@code steps} holds each tensor's update count (this one included).
     */
    static void sgd(List<NDArray> params, List<NDArray> grads, List<NDArray> bufs, long[] steps, float negLr,
                    float momentum, float oneMinusDampening, float weightDecay, boolean nesterov) {
        run("sgd", list(params), list(grads), list(bufs), IValue.listFrom(steps), IValue.from((double) negLr),
                IValue.from((double) momentum), IValue.from((double) oneMinusDampening), IValue.from((double) weightDecay),
                IValue.from(nesterov)).close();
    }

    /** Writes x's codes (UINT8, x's shape) and block scales (FLOAT32, one per block) into the given arrays. */
    static void quantize(NDArray x, NDArray bounds, int block, NDArray codes, NDArray absmax) {
        run("quantize", IValue.from((PtNDArray) x), IValue.from((PtNDArray) bounds), IValue.from((long) block),
                IValue.from((PtNDArray) codes), IValue.from((PtNDArray) absmax)).close();
    }

    static PtNDArray dequantize(NDArray codes, NDArray absmax, NDArray code, int block, PtNDManager manager) {
        try (IValue out = run("dequantize", IValue.from((PtNDArray) codes), IValue.from((PtNDArray) absmax),
                IValue.from((PtNDArray) code), IValue.from((long) block))) {
            return out.toTensor(manager);
        }
    }

    private static IValue run(String method, IValue... args) {
        PtSymbolBlock module = Loaded.MODULE;
        if (module == null) throw new IllegalStateException("libtorch's TorchScript optimizer kernels could not be loaded");
        try {
            return IValueUtils.runMethod(module, method, args);
        } finally {
            for (IValue a : args) a.close();
        }
    }

    private static IValue list(List<NDArray> arrays) {
        return IValue.listFrom(arrays.stream().map(a -> (PtNDArray) a).toArray(PtNDArray[]::new));
    }

    private static PtSymbolBlock loadOrWarn() {
        try {
            return TorchScriptModule.load("OptimizerKernels", SOURCE).module();
        } catch (IOException | RuntimeException e) {
            LOG.warn("fused optimizer kernels unavailable, stepping tensor by tensor: {}", e.getMessage());
            return null;
        }
    }
}

package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW with decoupled weight decay. A step runs over all tensors of a group in one native call through torch's
 * fused kernel ({@link OptimizerKernels#adamw}, torch.optim.AdamW(fused=True)), one pass over each tensor; where
 * libtorch's TorchScript runtime does not load, it steps tensor by tensor, op for op as torch.optim.AdamW's
 * single-tensor path (torch 1.13). The two agree to float32 rounding (the fused kernel keeps its scalars in
 * double precision and folds ops together).
 */
public final class AdamW extends ParamStateOptimizer {

    public static final String EXP_AVG = "exp_avg";
    public static final String EXP_AVG_SQ = "exp_avg_sq";

    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;

    /** torch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 1e-2. */
    public AdamW(List<ParamGroup> groups) {
        this(groups, 0.9, 0.999, 1e-8, 1e-2);
    }

    public AdamW(List<ParamGroup> groups, double beta1, double beta2, double eps, double weightDecay) {
        super(groups);
        checkBetas(beta1, beta2);
        if (!(eps >= 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("eps and weight decay must not be negative, got " + eps + ", " + weightDecay);
        }
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
    }

    static void checkBetas(double beta1, double beta2) {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("betas must lie in [0, 1), got (" + beta1 + ", " + beta2 + ")");
        }
    }

    @Override
    Map<String, NDArray> newState(NDArray param) {
        Map<String, NDArray> s = new LinkedHashMap<>();
        s.put(EXP_AVG, zeros(param));
        s.put(EXP_AVG_SQ, zeros(param));
        return s;
    }

    @Override
    void update(NDArray param, NDArray grad, ParamState s, double lr) {
        update(param, grad, s.get(EXP_AVG), s.get(EXP_AVG_SQ), s.step, lr);
    }

    /** The update with moments {@code m} and {@code v} (updated in place) after {@code step} updates. */
    void update(NDArray param, NDArray grad, NDArray m, NDArray v, long step, double lr) {
        // Scalars are rounded to float32 as torch does when it multiplies a float tensor by a Python number.
        param.muli((float) (1 - lr * weightDecay));
        m.muli((float) beta1).addi(grad.mul((float) (1 - beta1)));
        v.muli((float) beta2).addi(grad.mul((float) (1 - beta2)).muli(grad));
        NDArray denom = v.sqrt().divi((float) bias2Sqrt(step)).addi((float) eps);
        param.addi(m.mul((float) (-lr / (1 - Math.pow(beta1, step)))).divi(denom));
    }

    private double bias2Sqrt(long step) {
        return Math.sqrt(1 - Math.pow(beta2, step));
    }

    @Override
    boolean updateGroup(List<NDArray> params, List<NDArray> grads, List<ParamState> states, double lr) {
        // the fused kernel takes tensors of one device and dtype per call
        Map<String, Batch> batches = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) {
            NDArray p = params.get(i);
            ParamState s = states.get(i);
            Batch b = batches.computeIfAbsent(p.getDevice() + "/" + p.getDataType(), k -> new Batch());
            b.add(p, grads.get(i), s.get(EXP_AVG), s.get(EXP_AVG_SQ),
                    b.stepTensors.computeIfAbsent(s.step, n -> p.getManager().create((float) (long) n)));
        }
        for (Batch b : batches.values()) {
            OptimizerKernels.adamw(b.params, b.grads, b.ms, b.vs, b.steps, lr, beta1, beta2, weightDecay, eps);
        }
        return true;
    }

    /** The tensors of one fused call; tensors with the same update count share one step scalar. */
    private static final class Batch {
        final List<NDArray> params = new ArrayList<>(), grads = new ArrayList<>(), ms = new ArrayList<>(),
                vs = new ArrayList<>(), steps = new ArrayList<>();
        final Map<Long, NDArray> stepTensors = new HashMap<>();

        void add(NDArray p, NDArray grad, NDArray m, NDArray v, NDArray step) {
            params.add(p);
            grads.add(grad);
            ms.add(m);
            vs.add(v);
            steps.add(step);
        }
    }
}

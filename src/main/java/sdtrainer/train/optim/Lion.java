package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Lion (Chen et al. 2023) as its authors' lion-pytorch computes it: decoupled weight decay, a step of {@code lr}
 * in the direction of sign(beta1 * m + (1 - beta1) * g), then m = beta2 * m + (1 - beta2) * g.
 */
public final class Lion extends ParamStateOptimizer {

    public static final String EXP_AVG = "exp_avg";

    private final double beta1;
    private final double beta2;
    private final double weightDecay;

    /** lion-pytorch's defaults: betas (0.9, 0.99), no weight decay. */
    public Lion(List<ParamGroup> groups) {
        this(groups, 0.9, 0.99, 0.0);
    }

    public Lion(List<ParamGroup> groups, double beta1, double beta2, double weightDecay) {
        super(groups);
        AdamW.checkBetas(beta1, beta2);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight decay must not be negative, got " + weightDecay);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.weightDecay = weightDecay;
    }

    @Override
    Map<String, NDArray> newState(NDArray param) {
        Map<String, NDArray> s = new LinkedHashMap<>();
        s.put(EXP_AVG, zeros(param));
        return s;
    }

    @Override
    void update(NDArray param, NDArray grad, ParamState s, double lr) {
        update(param, grad, s.get(EXP_AVG), lr);
    }

    @Override
    boolean updateGroup(List<NDArray> params, List<NDArray> grads, List<ParamState> states, double lr) {
        OptimizerKernels.lion(params, grads, states.stream().map(s -> s.get(EXP_AVG)).toList(),
                (float) (1 - lr * weightDecay), (float) -lr, (float) beta1, (float) (1 - beta1), (float) beta2,
                (float) (1 - beta2));
        return true;
    }

    /** The update with momentum {@code m} (updated in place). */
    void update(NDArray param, NDArray grad, NDArray m, double lr) {
        param.muli((float) (1 - lr * weightDecay));
        NDArray direction = m.mul((float) beta1).addi(grad.mul((float) (1 - beta1))).signi();
        param.addi(direction.muli((float) -lr));
        m.muli((float) beta2).addi(grad.mul((float) (1 - beta2)));
    }
}

package sdtrainer.train.optim;

import ai.djl.ndarray.NDArray;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** A named set of parameters sharing a learning rate (e.g. "unet" and "text_encoder"). */
public record ParamGroup(String name, Map<String, NDArray> params, double lr) {
    public ParamGroup {
        checkLr(name, lr);
        params = Collections.unmodifiableMap(new LinkedHashMap<>(params));
    }

    static void checkLr(String group, double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("learning rate of group '" + group + "' must be finite and >= 0, got " + lr);
        }
    }
}

package sdtrainer.diffusion;

import ai.djl.ndarray.NDArray;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/** The samplers by the names {@code sample --sampler} and {@code --sample_sampler} take. */
public final class Samplers {
    private static final Map<String, Function<NoiseSchedule, Sampler>> BY_NAME = new LinkedHashMap<>();

    static {
        BY_NAME.put("ddim", DdimSampler::new);
        BY_NAME.put("euler", EulerSampler::new);
    }

    private Samplers() {}

    /** The accepted names, in the order the help lists them. */
    public static Set<String> names() {
        return BY_NAME.keySet();
    }

    /** A fresh sampler (they keep per-run state) for {@code schedule}; an unknown name is refused, listing the known. */
    public static Sampler create(String name, NoiseSchedule schedule) {
        Function<NoiseSchedule, Sampler> f = BY_NAME.get(name);
        if (f == null) throw new IllegalArgumentException("unknown sampler '" + name + "'; expected one of " + String.join(", ", names()));
        return f.apply(schedule);
    }

    /** A step's result, handed to the manager of the sample it advances. */
    static NDArray own(NDArray result, NDArray sample) {
        if (result.getManager() != sample.getManager()) result.attach(sample.getManager());
        return result;
    }
}

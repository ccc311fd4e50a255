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
        BY_NAME.put("euler_a", EulerAncestralSampler::new);
        BY_NAME.put("dpmpp_2m", s -> new DpmSolverMultistepSampler(s, false));
        BY_NAME.put("dpmpp_2m_karras", s -> new DpmSolverMultistepSampler(s, true));
        BY_NAME.put("lms", LmsSampler::new);
        BY_NAME.put("heun", HeunSampler::new);
        BY_NAME.put("ddpm", DdpmSampler::new);
    }

    /** kohya's names for the same schedulers (its --sample_sampler choices). */
    private static final Map<String, String> ALIASES = Map.of("k_euler", "euler", "k_euler_a", "euler_a",
            "k_lms", "lms", "dpmsolver++", "dpmpp_2m");

    private Samplers() {}

    /** Our name for {@code name} (ours, or kohya's alias of one); an unknown name is refused, listing the known. */
    public static String canonical(String name) {
        String n = ALIASES.getOrDefault(name.strip().toLowerCase(java.util.Locale.ROOT), name.strip().toLowerCase(java.util.Locale.ROOT));
        if (!BY_NAME.containsKey(n)) {
            throw new IllegalArgumentException("unknown sampler '" + name + "'; expected one of " + String.join(", ", names()));
        }
        return n;
    }

    /** The accepted names, in the order the help lists them. */
    public static Set<String> names() {
        return BY_NAME.keySet();
    }

    /** A fresh sampler (they keep per-run state) for {@code schedule}; an unknown name is refused, listing the known. */
    public static Sampler create(String name, NoiseSchedule schedule) {
        return BY_NAME.get(canonical(name)).apply(schedule);
    }

    /** A step's result, handed to the manager of the sample it advances. */
    static NDArray own(NDArray result, NDArray sample) {
        if (result.getManager() != sample.getManager()) result.attach(sample.getManager());
        return result;
    }
}

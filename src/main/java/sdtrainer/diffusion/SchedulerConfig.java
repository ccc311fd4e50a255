package sdtrainer.diffusion;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import sdtrainer.io.JsonErrors;

/**
 * The noise-schedule part of a diffusers {@code scheduler/scheduler_config.json}. Whatever scheduler class the
 * file names (PNDM, DDIM, Euler, ...), diffusers builds DDPM/DDIM from the same keys, so this record reads them
 * with the defaults of diffusers 0.21.4's {@code DDIMScheduler.__init__} for absent keys and ignores the rest.
 *
 * @param trainedBetas explicit betas that override {@code betaSchedule} when non-null, as in diffusers
 * @param timestepSpacing null when the file does not say: each sampler then uses its own diffusers default
 *                        (see {@link #timestepSpacing(String)})
 */
public record SchedulerConfig(
        int numTrainTimesteps,
        double betaStart,
        double betaEnd,
        String betaSchedule,
        List<Double> trainedBetas,
        String predictionType,
        String timestepSpacing,
        int stepsOffset,
        boolean setAlphaToOne,
        boolean clipSample,
        double clipSampleRange,
        boolean thresholding,
        boolean rescaleBetasZeroSnr) {

    public static final Set<String> BETA_SCHEDULES = Set.of("linear", "scaled_linear", "squaredcos_cap_v2");
    public static final Set<String> PREDICTION_TYPES = Set.of("epsilon", "v_prediction", "sample");
    public static final Set<String> TIMESTEP_SPACINGS = Set.of("leading", "trailing", "linspace");

    public SchedulerConfig {
        if (numTrainTimesteps < 1) {
            throw new IllegalArgumentException("num_train_timesteps must be positive, got " + numTrainTimesteps);
        }
        if (trainedBetas != null) {
            trainedBetas = List.copyOf(trainedBetas);
            if (trainedBetas.size() != numTrainTimesteps) {
                throw new IllegalArgumentException("trained_betas has " + trainedBetas.size()
                        + " values but num_train_timesteps is " + numTrainTimesteps);
            }
        } else if (!BETA_SCHEDULES.contains(betaSchedule)) {
            throw new IllegalArgumentException("beta_schedule '" + betaSchedule + "' is not one of " + BETA_SCHEDULES);
        }
        if (!PREDICTION_TYPES.contains(predictionType)) {
            throw new IllegalArgumentException("prediction_type '" + predictionType + "' is not one of " + PREDICTION_TYPES);
        }
        if (timestepSpacing != null && !TIMESTEP_SPACINGS.contains(timestepSpacing)) {
            throw new IllegalArgumentException("timestep_spacing '" + timestepSpacing + "' is not one of " + TIMESTEP_SPACINGS);
        }
    }

    /** diffusers' defaults: what an empty {@code scheduler_config.json} means. */
    public static SchedulerConfig defaults() {
        return new SchedulerConfig(1000, 0.0001, 0.02, "linear", null, "epsilon", null, 0,
                true, true, 1.0, false, false);
    }

    /** The configured spacing, or the scheduler's own default where the file names none (as from_config does). */
    public String timestepSpacing(String schedulerDefault) {
        return timestepSpacing != null ? timestepSpacing : schedulerDefault;
    }

    public SchedulerConfig withPredictionType(String type) {
        return new SchedulerConfig(numTrainTimesteps, betaStart, betaEnd, betaSchedule, trainedBetas, type,
                timestepSpacing, stepsOffset, setAlphaToOne, clipSample, clipSampleRange, thresholding,
                rescaleBetasZeroSnr);
    }

    public SchedulerConfig withTimestepSpacing(String spacing, int offset) {
        return new SchedulerConfig(numTrainTimesteps, betaStart, betaEnd, betaSchedule, trainedBetas, predictionType,
                spacing, offset, setAlphaToOne, clipSample, clipSampleRange, thresholding, rescaleBetasZeroSnr);
    }

    /** Reads a scheduler config file; errors name the file and the offending key. */
    public static SchedulerConfig read(Path file) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readAllBytes(file));
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": not valid JSON: " + JsonErrors.describe(e), e);
        }
        if (root == null || !root.isObject()) throw new IOException(file + ": expected a JSON object");
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    static SchedulerConfig fromJson(JsonNode root) {
        SchedulerConfig d = defaults();
        return new SchedulerConfig(
                integer(root, "num_train_timesteps", d.numTrainTimesteps),
                number(root, "beta_start", d.betaStart),
                number(root, "beta_end", d.betaEnd),
                text(root, "beta_schedule", d.betaSchedule),
                numbers(root, "trained_betas"),
                text(root, "prediction_type", d.predictionType),
                text(root, "timestep_spacing", d.timestepSpacing),
                integer(root, "steps_offset", d.stepsOffset),
                bool(root, "set_alpha_to_one", d.setAlphaToOne),
                bool(root, "clip_sample", d.clipSample),
                number(root, "clip_sample_range", d.clipSampleRange),
                bool(root, "thresholding", d.thresholding),
                bool(root, "rescale_betas_zero_snr", d.rescaleBetasZeroSnr));
    }

    // A key set to null means "use the default", as passing None to diffusers' __init__ would for these keys.
    private static JsonNode present(JsonNode root, String key) {
        JsonNode n = root.get(key);
        return n == null || n.isNull() ? null : n;
    }

    private static int integer(JsonNode root, String key, int def) {
        JsonNode n = present(root, key);
        if (n == null) return def;
        if (!n.canConvertToInt() || !n.isIntegralNumber()) throw wrongType(key, "an integer", n);
        return n.intValue();
    }

    private static double number(JsonNode root, String key, double def) {
        JsonNode n = present(root, key);
        if (n == null) return def;
        if (!n.isNumber()) throw wrongType(key, "a number", n);
        return n.doubleValue();
    }

    private static boolean bool(JsonNode root, String key, boolean def) {
        JsonNode n = present(root, key);
        if (n == null) return def;
        if (!n.isBoolean()) throw wrongType(key, "true or false", n);
        return n.booleanValue();
    }

    private static String text(JsonNode root, String key, String def) {
        JsonNode n = present(root, key);
        if (n == null) return def;
        if (!n.isTextual()) throw wrongType(key, "a string", n);
        return n.textValue();
    }

    private static List<Double> numbers(JsonNode root, String key) {
        JsonNode n = present(root, key);
        if (n == null) return null;
        if (!n.isArray()) throw wrongType(key, "an array of numbers", n);
        List<Double> out = new ArrayList<>(n.size());
        for (JsonNode v : n) {
            if (!v.isNumber()) throw wrongType(key, "an array of numbers", n);
            out.add(v.doubleValue());
        }
        return out;
    }

    private static IllegalArgumentException wrongType(String key, String expected, JsonNode got) {
        String shown = got.toString();
        if (shown.length() > 60) shown = shown.substring(0, 60) + "...";
        return new IllegalArgumentException("'" + key + "' must be " + expected + ", got " + shown);
    }
}

package sdtrainer.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Checks a {@link TrainConfig} before anything is loaded. Each problem is one line that names the
 * option, what is wrong with its value, and how to fix it; all problems are reported at once.
 */
public final class ConfigValidator {

    private static final Pattern DEVICE = Pattern.compile("cpu|cuda|cuda:\\d{1,3}");

    private ConfigValidator() {
    }

    /** The problems with {@code config}; empty when it can be trained on. */
    public static List<String> validate(TrainConfig config) {
        List<String> problems = new ArrayList<>();
        checkPaths(config, problems);

        check(problems, config.batchSize() >= 1, "--batch_size " + config.batchSize() + " must be at least 1");
        check(problems, config.minibatchRepeat() >= 1,
                "--minibatch_repeat " + config.minibatchRepeat() + " must be at least 1");
        if (config.batchSize() >= 1 && config.minibatchRepeat() >= 1 && config.batchSize() % config.minibatchRepeat() != 0) {
            problems.add("--batch_size " + config.batchSize() + " is not divisible by --minibatch_repeat "
                    + config.minibatchRepeat() + "; make batch_size a multiple of " + config.minibatchRepeat());
        }
        check(problems, config.epochs() >= 1, "--epochs " + config.epochs() + " must be at least 1");
        check(problems, config.saveNEpochs() >= 1, "--save_n_epochs " + config.saveNEpochs() + " must be at least 1");
        check(problems, config.lora() >= 0, "--lora " + config.lora() + " is negative; give a rank >= 1, or 0 to train the full model");
        check(problems, config.loraAlpha() >= 0 && Double.isFinite(config.loraAlpha()),
                "--lora_alpha " + config.loraAlpha() + " must be a finite number >= 0, e.g. 1");
        check(problems, config.ehGroups() >= 1, "--eh_groups " + config.ehGroups() + " must be at least 1");
        check(problems, config.threads() >= 0, "--threads " + config.threads() + " is negative; give a count, or 0 for the engine default");

        parse(problems, "--resolution", config.resolutionText(), Resolution::parse);
        parse(problems, "--lr", config.lrText(), LearningRates::parse);
        parse(problems, "--step_range", config.stepRangeText(), StepRange::parse);

        config.device().filter(device -> !DEVICE.matcher(device).matches()).ifPresent(device ->
                problems.add("--device '" + device + "' is not a device; give cpu, cuda or cuda:N (N = GPU index)"));
        check(problems, !config.mask() || config.useBucket(),
                "--mask needs --use_bucket: masks come with the bucketed dataset made by preprocess");
        longRuns(config, problems);
        checkSampling(config, problems);
        return problems;
    }

    /** Long runs (issue 10): state, resume, accumulation, EMA, clipping. */
    private static void longRuns(TrainConfig config, List<String> problems) {
        check(problems, config.saveStateEveryNSteps() >= 0, "--save_state_every_n_steps " + config.saveStateEveryNSteps()
                + " is negative; give N >= 1, or 0 to save the state only at save points");
        check(problems, config.saveStateEveryNSteps() == 0 || config.saveState(),
                "--save_state_every_n_steps needs --save_state");
        check(problems, config.gradientAccumulationSteps() >= 1, "--gradient_accumulation_steps "
                + config.gradientAccumulationSteps() + " must be at least 1");
        check(problems, config.emaDecay() >= 0 && config.emaDecay() < 1, "--ema_decay " + config.emaDecay()
                + " must lie in [0, 1), e.g. 0.999; 0 turns EMA off");
        check(problems, !config.emaWarmup() || config.emaDecay() > 0, "--ema_warmup needs --ema_decay D");
        check(problems, "same".equals(config.emaDevice()) || "cpu".equals(config.emaDevice()),
                "--ema_device '" + config.emaDevice() + "' is not one of same, cpu");
        check(problems, config.maxGradNorm() >= 0 && Double.isFinite(config.maxGradNorm()),
                "--max_grad_norm " + config.maxGradNorm() + " must be a finite number >= 0 (0 = no clipping), e.g. 1.0");
        config.resume().ifPresent(dir -> check(problems, sdtrainer.io.AtomicDirectory.current(dir) != null,
                "--resume " + dir + ": no such directory; give the <output>-state directory that --save_state wrote"));
    }

    // --- sample images (issue 13) ---
    private static void checkSampling(TrainConfig config, List<String> problems) {
        config.samplePrompts().ifPresent(file -> {
            if (!Files.isRegularFile(file)) {
                problems.add("--sample_prompts " + file + ": no such file; give a prompt file (.txt, .toml or .json)");
            } else {
                try {
                    sdtrainer.pipeline.SamplePromptFile.read(file);
                } catch (IllegalArgumentException e) {
                    problems.add("--sample_prompts " + e.getMessage());
                } catch (java.io.IOException e) {
                    problems.add("--sample_prompts " + file + ": cannot be read: " + e.getMessage());
                }
            }
        });
        try {
            sdtrainer.diffusion.Samplers.canonical(config.sampleSampler());
        } catch (IllegalArgumentException e) {
            problems.add("--sample_sampler: " + e.getMessage());
        }
        config.sampleEveryNSteps().ifPresent(n -> check(problems, n >= 1, "--sample_every_n_steps " + n + " must be at least 1"));
        config.sampleEveryNEpochs().ifPresent(n -> check(problems, n >= 1, "--sample_every_n_epochs " + n + " must be at least 1"));
    }
    // --- end of sample images ---

    private static void checkPaths(TrainConfig config, List<String> problems) {
        required(problems, "--model", "the diffusers model directory", config.model()).ifPresent(model -> {
            if (!Files.isDirectory(model)) {
                problems.add("--model " + model + ": no such directory; give a diffusers model directory");
            } else if (!Files.isDirectory(model.resolve("unet"))) {
                problems.add("--model " + model + ": has no unet/ folder; give a model in diffusers layout");
            }
        });
        required(problems, "--dataset", "the dataset directory", config.dataset()).ifPresent(dataset -> {
            if (!Files.isDirectory(dataset)) {
                problems.add("--dataset " + dataset + ": no such directory; give the dataset directory");
            }
        });
        required(problems, "--output", "the path the trained weights are written to", config.output())
                .ifPresent(output -> creatable(problems, "--output", output));
        required(problems, "--image_log", "a directory for sample images", config.imageLog())
                .ifPresent(imageLog -> creatable(problems, "--image_log", imageLog));
        config.logDir().ifPresent(logDir -> creatable(problems, "--log_dir", logDir));
        config.resumeLora().ifPresent(file -> {
            if (!Files.isRegularFile(file)) {
                problems.add("--resume_lora " + file + ": no such file; give the adapter file to continue from");
            }
        });
    }

    private static Optional<Path> required(List<String> problems, String option, String what, Optional<Path> value) {
        if (value.isEmpty()) {
            problems.add(option + " is required; give " + what);
        }
        return value;
    }

    /** The path exists, or its nearest existing ancestor is a writable directory it can be created in. */
    private static void creatable(List<String> problems, String option, Path path) {
        Path existing = path.toAbsolutePath().normalize();
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            problems.add(option + " " + path + ": cannot be created; give a path under an existing directory");
        } else if (!Files.isDirectory(existing)) {
            problems.add(option + " " + path + ": " + existing + " is a file, not a directory; choose another path");
        } else if (!Files.isWritable(existing)) {
            problems.add(option + " " + path + ": " + existing + " is not writable; choose a writable location");
        }
    }

    private static void check(List<String> problems, boolean ok, String problem) {
        if (!ok) {
            problems.add(problem);
        }
    }

    private static void parse(List<String> problems, String option, String text, Function<String, ?> parser) {
        try {
            parser.apply(text);
        } catch (IllegalArgumentException e) {
            problems.add(option + " '" + text + "': " + e.getMessage());
        }
    }
}

package sdtrainer.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.regex.Pattern;
import sdtrainer.pipeline.ModelSource;

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
        checkOptimizer(config, problems);
        longRuns(config, problems);
        checkRecipe(config, problems);
        checkSampling(config, problems);
        checkValidation(config, problems);

        // single-file models and LoCon (issue 11)
        check(problems, config.convDim() >= 0, "--conv_dim " + config.convDim() + " is negative; give a rank >= 1, or 0 for no LoCon");
        check(problems, config.convAlpha() >= 0 && Double.isFinite(config.convAlpha()),
                "--conv_alpha " + config.convAlpha() + " must be a finite number >= 0, e.g. 1");
        check(problems, config.convDim() <= 0 || (config.lora() > 0 && config.network() == NetworkType.LORA),
                "--conv_dim adds LoCon layers to a LoRA: give --lora RANK too (and --network lora)");
        check(problems, config.saveFormat() != SaveFormat.SINGLE_FILE || config.lora() == 0,
                "--save_format single_file is for full fine-tunes; a LoRA is always written as one kohya-format file");
        return problems;
    }

    // Optimizers (issue 13)
    private static void checkOptimizer(TrainConfig config, List<String> problems) {
        problems.addAll(optimizerProblems(config.optimizer(), config.optimizerArgsText()));
        if (config.optimizer() == OptimizerType.PRODIGY && config.trainEncoder()) {
            try {
                LearningRates lr = config.learningRates();
                check(problems, lr.teLr() == lr.unetLr() || lr.teLr() == 0 || lr.unetLr() == 0,
                        "--lr " + lr + ": prodigy needs one learning rate for the text encoder and the UNet (or 0 for one)");
            } catch (IllegalArgumentException e) {
                // --lr itself is reported above
            }
        }
    }

    /** The problems of {@code --optimizer_args text} for {@code type}, each one line (also used by bench). */
    public static List<String> optimizerProblems(OptimizerType type, String text) {
        try {
            return OptimizerArgs.parse(text).problems(type).stream()
                    .map(p -> "--optimizer_args '" + text + "': " + p).toList();
        } catch (IllegalArgumentException e) {
            return List.of("--optimizer_args '" + text + "': " + e.getMessage());
        }
    }

    /** Long runs (issue 10): state, resume, accumulation, EMA, clipping. */
    private static void longRuns(TrainConfig config, List<String> problems) {
        check(problems, config.saveStateEveryNSteps() >= 0, "--save_state_every_n_steps " + config.saveStateEveryNSteps()
                + " is negative; give N >= 1, or 0 to save the state only at save points");
        check(problems, config.saveStateEveryNSteps() == 0 || config.saveState(),
                "--save_state_every_n_steps needs --save_state");
        check(problems, config.gradientAccumulationSteps() >= 1, "--gradient_accumulation_steps "
                + config.gradientAccumulationSteps() + " must be at least 1");
        // the samples of one optimizer step are counted in an int (the data order is laid out in batches of them)
        check(problems, (long) config.batchSize() * config.gradientAccumulationSteps() <= Integer.MAX_VALUE,
                "--batch_size " + config.batchSize() + " x --gradient_accumulation_steps " + config.gradientAccumulationSteps()
                        + " samples per optimizer step is more than " + Integer.MAX_VALUE + "; give fewer");
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

    // ---- Training recipe (issue 12) ----

    private static final java.util.Set<Integer> MAX_TOKEN_LENGTHS = java.util.Set.of(75, 150, 225);

    private static void checkRecipe(TrainConfig c, List<String> problems) {
        c.noiseOffset().ifPresent(x -> check(problems, x >= 0 && Double.isFinite(x),
                "--noise_offset " + x + " must be a finite number >= 0, e.g. 0.05"));
        c.adaptiveNoiseScale().ifPresent(x -> {
            check(problems, Double.isFinite(x), "--adaptive_noise_scale " + x + " must be a finite number, e.g. 0.01");
            check(problems, c.noiseOffset().isPresent(), "--adaptive_noise_scale needs --noise_offset, which it adjusts");
        });
        c.multiresNoiseIterations().ifPresent(n -> check(problems, n >= 1,
                "--multires_noise_iterations " + n + " must be at least 1, e.g. 6"));
        check(problems, c.multiresNoiseDiscount() > 0 && c.multiresNoiseDiscount() <= 1,
                "--multires_noise_discount " + c.multiresNoiseDiscount() + " must lie in (0, 1], e.g. 0.3");
        c.ipNoiseGamma().ifPresent(x -> check(problems, x >= 0 && Double.isFinite(x),
                "--ip_noise_gamma " + x + " must be a finite number >= 0, e.g. 0.1"));
        c.minSnrGamma().ifPresent(g -> check(problems, g > 0 && Double.isFinite(g),
                "--min_snr_gamma " + g + " must be a finite number > 0, e.g. 5"));
        check(problems, c.huberC() > 0 && Double.isFinite(c.huberC()),
                "--huber_c " + c.huberC() + " must be a finite number > 0, e.g. 0.1");
        check(problems, c.huberSchedule() != HuberSchedule.EXPONENTIAL || c.huberC() < 1 || !c.lossType().usesHuberC(),
                "--huber_c " + c.huberC() + " must be below 1 for --huber_schedule exponential (it decays from 1 to C)");
        check(problems, c.huberScale() > 0 && Double.isFinite(c.huberScale()),
                "--huber_scale " + c.huberScale() + " must be a finite number > 0, e.g. 1");
        rate(problems, "--caption_dropout_rate", c.captionDropoutRate());
        rate(problems, "--caption_tag_dropout_rate", c.captionTagDropoutRate());
        check(problems, c.keepTokens() >= 0, "--keep_tokens " + c.keepTokens() + " is negative; give 0 or more tags");
        check(problems, !c.captionSeparator().isEmpty(), "--caption_separator is empty; give the text between tags, e.g. ,");
        c.clipSkip().ifPresent(n -> check(problems, n >= 1, "--clip_skip " + n + " must be at least 1 (1 = the last layer)"));
        c.maxTokenLength().ifPresent(n -> check(problems, MAX_TOKEN_LENGTHS.contains(n),
                "--max_token_length " + n + " is not 75, 150 or 225"));
        if (c.lrWarmupStepsText() != null) {
            parse(problems, "--lr_warmup_steps", c.lrWarmupStepsText(), WarmupSteps::parse);
        }
        if (c.lrScheduler() == LrScheduler.CONSTANT && c.lrWarmupStepsText() != null) {
            try {
                WarmupSteps w = WarmupSteps.parse(c.lrWarmupStepsText());
                check(problems, !w.isFraction() ? w.steps() == 0 : w.fraction() == 0,
                        "--lr_warmup_steps does nothing with --lr_scheduler constant (as in diffusers and kohya);"
                                + " use --lr_scheduler constant_with_warmup");
            } catch (IllegalArgumentException reported) {
                // reported above
            }
        }
        check(problems, c.lrSchedulerNumCycles() >= 1,
                "--lr_scheduler_num_cycles " + c.lrSchedulerNumCycles() + " must be at least 1");
        check(problems, c.lrSchedulerPower() > 0 && Double.isFinite(c.lrSchedulerPower()),
                "--lr_scheduler_power " + c.lrSchedulerPower() + " must be a finite number > 0, e.g. 1");
    }

    private static void rate(List<String> problems, String option, double p) {
        check(problems, p >= 0 && p <= 1, option + " " + p + " must be a probability in [0, 1], e.g. 0.1");
    }

    // ---- end of the training recipe ----

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

    // Validation loss (issue 12)
    private static void checkValidation(TrainConfig config, List<String> problems) {
        config.validationSplit().ifPresent(f -> check(problems, f > 0 && f < 1,
                "--validation_split " + f + " must be a share between 0 and 1 (e.g. 0.1), or 0 for none"));
        config.validationDataset().ifPresent(dir -> {
            check(problems, config.validationSplit().isEmpty(),
                    "--validation_split and --validation_dataset both name the validation samples; give one of them");
            check(problems, Files.isDirectory(dir), "--validation_dataset " + dir + ": no such directory");
            check(problems, config.dataset().map(d -> !d.toAbsolutePath().normalize().equals(dir.toAbsolutePath().normalize()))
                    .orElse(true), "--validation_dataset " + dir + " is the training --dataset; validate on other samples");
        });
        check(problems, config.validateEveryNEpochs() >= 1,
                "--validate_every_n_epochs " + config.validateEveryNEpochs() + " must be at least 1");
        config.validateEveryNSteps().ifPresent(n -> check(problems, n >= 1, "--validate_every_n_steps " + n + " must be at least 1"));
        config.maxValidationSteps().ifPresent(n -> check(problems, n >= 1, "--max_validation_steps " + n + " must be at least 1"));
    }

    private static void checkPaths(TrainConfig config, List<String> problems) {
        required(problems, "--model", "a diffusers model folder or a single .safetensors file", config.model()).ifPresent(model ->
                new ModelSource(model, config.modelConfig(), config.vPredictionChoice()).problem().ifPresent(problems::add));
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

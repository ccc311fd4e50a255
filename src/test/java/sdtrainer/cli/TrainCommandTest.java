package sdtrainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import sdtrainer.config.ConfigException;
import sdtrainer.config.LearningRates;
import sdtrainer.config.LrScheduler;
import sdtrainer.config.NetworkType;
import sdtrainer.config.OnBadSample;
import sdtrainer.config.Resolution;
import sdtrainer.config.SavePrecision;
import sdtrainer.config.StepRange;
import sdtrainer.config.TrainConfig;

/** Parsing, merging and validation of the root command; none of these start the engine. */
class TrainCommandTest {

    @TempDir
    Path dir;

    private String model;
    private String dataset;

    @BeforeEach
    void paths() throws IOException {
        model = Files.createDirectories(dir.resolve("model/unet")).getParent().toString();
        dataset = Files.createDirectories(dir.resolve("data")).toString();
    }

    private static TrainConfig parse(String... args) throws ConfigException {
        CommandLine commandLine = TrainCommand.newCommandLine();
        commandLine.parseArgs(args);
        return ((TrainCommand) commandLine.getCommand()).resolvedConfig();
    }

    private Path config(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    @Test
    void parsesEveryOption() throws Exception {
        TrainConfig c = parse("--model", "m", "--dataset", "d", "--output", "o", "--image_log", "i",
                "--resolution", "768,512", "--batch_size", "8", "--lr", "1e-5,1e-4", "--lr_scheduler", "cosine",
                "--train_encoder", "--epochs", "3", "--save_n_epochs", "1", "--amp", "--gradient_checkpointing",
                "--lora", "16", "--lora_alpha", "8", "--network", "eh", "--eh_groups", "2", "--use_bucket",
                "--wandb", "--up_only", "--v_prediction", "--step_range", "0.2,0.8", "--mask", "--prompt", "a cat",
                "--minibatch_repeat", "2", "--resume_lora", "prev.safetensors", "--seed", "42", "--device", "cuda:1",
                "--threads", "6", "--save_precision", "fp16", "--on_bad_sample", "skip", "--log_dir", "tb");
        assertEquals(Path.of("m"), c.model().orElseThrow());
        assertEquals(Path.of("d"), c.dataset().orElseThrow());
        assertEquals(Path.of("o"), c.output().orElseThrow());
        assertEquals(Path.of("i"), c.imageLog().orElseThrow());
        assertEquals(new Resolution(768, 512), c.resolution());
        assertEquals(8, c.batchSize());
        assertEquals(new LearningRates(1e-5, 1e-4), c.learningRates());
        assertEquals(LrScheduler.COSINE, c.lrScheduler());
        assertTrue(c.trainEncoder());
        assertEquals(3, c.epochs());
        assertEquals(1, c.saveNEpochs());
        assertTrue(c.amp());
        assertTrue(c.gradientCheckpointing());
        assertEquals(16, c.lora());
        assertEquals(8.0, c.loraAlpha());
        assertEquals(NetworkType.EH, c.network());
        assertEquals(2, c.ehGroups());
        assertTrue(c.useBucket());
        assertTrue(c.wandb());
        assertTrue(c.upOnly());
        assertTrue(c.vPrediction());
        assertEquals(new StepRange(0.2, 0.8), c.stepRange());
        assertTrue(c.mask());
        assertEquals("a cat", c.prompt().orElseThrow());
        assertEquals(2, c.minibatchRepeat());
        assertEquals(Path.of("prev.safetensors"), c.resumeLora().orElseThrow());
        assertEquals(42, c.seed().orElseThrow());
        assertEquals("cuda:1", c.device().orElseThrow());
        assertEquals(6, c.threads());
        assertEquals(SavePrecision.FP16, c.savePrecision());
        assertEquals(OnBadSample.SKIP, c.onBadSample());
        assertEquals(Path.of("tb"), c.logDir().orElseThrow());
    }

    @Test
    void originalSpellingsStillParse() throws Exception {
        // As in the original tool's shell scripts: "N" resolution, one lr, --opt=value form.
        TrainConfig c = parse("--resolution", "640", "--lr=2e-6", "--step_range=0,0.5");
        assertEquals(new Resolution(640, 640), c.resolution());
        assertEquals(new LearningRates(2e-6, 2e-6), c.learningRates());
        assertEquals(new StepRange(0, 0.5), c.stepRange());
    }

    @Test
    void noOptionsGiveTheOriginalDefaults() throws Exception {
        TrainConfig c = parse();
        assertEquals(new Resolution(512, 512), c.resolution());
        assertEquals(4, c.batchSize());
        assertEquals(new LearningRates(5e-6, 5e-6), c.learningRates());
        assertEquals(LrScheduler.CONSTANT, c.lrScheduler());
        assertEquals(10, c.epochs());
        assertEquals(5, c.saveNEpochs());
        assertEquals(new StepRange(0, 1), c.stepRange());
        assertEquals(1, c.minibatchRepeat());
        assertEquals(0, c.lora());
        assertFalse(c.amp());
    }

    @Test
    void fileValuesStayUnlessTheCommandLineGivesThem() throws Exception {
        Path file = config("train.yaml", """
                epochs: 3
                batch_size: 8
                lr_scheduler: cosine
                amp: true
                train_encoder: false
                prompt: from the file
                """);
        TrainConfig c = parse("--config", file.toString(), "--batch_size", "2", "--no-amp", "--train_encoder");
        assertEquals(3, c.epochs(), "absent flag keeps the file's value");
        assertEquals(LrScheduler.COSINE, c.lrScheduler());
        assertEquals("from the file", c.prompt().orElseThrow());
        assertEquals(2, c.batchSize(), "typed option overrides the file");
        assertFalse(c.amp(), "--no-amp turns off a flag the file turned on");
        assertTrue(c.trainEncoder(), "--train_encoder turns on a flag the file turned off");
    }

    @Test
    void optionTypedWithItsDefaultValueStillOverridesTheFile() throws Exception {
        Path file = config("train.json", "{\"epochs\": 3, \"lr\": \"1e-4\"}");
        TrainConfig c = parse("--epochs", "10", "--lr", "5e-6", "--config", file.toString());
        assertEquals(10, c.epochs());
        assertEquals(new LearningRates(5e-6, 5e-6), c.learningRates());
    }

    @Test
    void unknownOptionSuggestsTheRightOne() {
        CommandRun run = CommandRun.of("--lr_schedular", "cosine");
        assertEquals(2, run.exitCode());
        List<String> lines = run.err().lines().toList();
        assertTrue(lines.get(0).startsWith("sd-trainer: Unknown options: '--lr_schedular'"), run.err());
        assertTrue(lines.get(1).contains("--lr_scheduler"), run.err());
        assertEquals("Try 'sd-trainer --help' for more information.", lines.get(lines.size() - 1));
        assertEquals("", run.out());
    }

    @Test
    void unknownChoiceListsTheChoices() {
        CommandRun run = CommandRun.of("--network", "lokr");
        assertEquals(2, run.exitCode());
        assertTrue(run.err().startsWith("sd-trainer: Invalid value for option '--network': 'lokr' is not one of lora, eh"),
                run.err());
    }

    @Test
    void unknownOptimizerAndBadOptimizerArgsExitTwoWithOneLine() {
        CommandRun run = CommandRun.of("--optimizer", "adam9bit");
        assertEquals(2, run.exitCode());
        assertTrue(run.err().startsWith("sd-trainer: Invalid value for option '--optimizer': 'adam9bit' is not one of "
                + "adamw, adamw8bit, lion, lion8bit, prodigy, adafactor, sgd"), run.err());
        run = CommandRun.of("--model", model, "--dataset", dataset, "--output", dir.resolve("out").toString(),
                "--image_log", dir.resolve("img").toString(), "--optimizer", "lion8bit", "--optimizer_args", "betas=0.9");
        assertEquals(2, run.exitCode());
        assertEquals(List.of("sd-trainer: --optimizer_args 'betas=0.9': betas=0.9 must be two numbers, e.g. 0.9,0.999"),
                run.err().lines().toList());
    }

    @Test
    void choicesAreCaseInsensitive() throws Exception {
        assertEquals(SavePrecision.BF16, parse("--save_precision", "BF16").savePrecision());
    }

    @Test
    void nonNumberForACountNamesTheOption() {
        CommandRun run = CommandRun.of("--batch_size", "four");
        assertEquals(2, run.exitCode());
        assertTrue(run.err().startsWith("sd-trainer: Invalid value for option '--batch_size': 'four' is not an int"),
                run.err());
    }

    @Test
    void validationProblemsAreOneLineEachAndExitTwo() {
        CommandRun run = CommandRun.of("--model", model, "--dataset", dataset, "--output", dir.resolve("out").toString(),
                "--image_log", dir.resolve("img").toString(), "--batch_size", "6", "--minibatch_repeat", "4",
                "--resolution", "500", "--lr", "fast");
        assertEquals(2, run.exitCode());
        assertEquals(List.of(
                "sd-trainer: --batch_size 6 is not divisible by --minibatch_repeat 4; make batch_size a multiple of 4",
                "sd-trainer: --resolution '500': 500 is not a multiple of 8; use 496 or 504",
                "sd-trainer: --lr 'fast': 'fast' is not a number; give LR or TE_LR,UNET_LR, e.g. 5e-6 or 5e-6,1e-4"),
                run.err().lines().toList());
        assertEquals("", run.out());
    }

    @Test
    void validationSeesTheMergedConfig() throws IOException {
        Path file = config("train.yaml", "model: " + model + "\ndataset: " + dataset + "\nmask: true\n");
        CommandRun run = CommandRun.of("--config", file.toString(), "--output", "o", "--image_log", "i");
        assertEquals(2, run.exitCode());
        assertEquals(List.of("sd-trainer: --mask needs --use_bucket: masks come with the bucketed dataset made by preprocess"),
                run.err().lines().toList());
    }

    @Test
    void missingPathsAreNamed() {
        CommandRun run = CommandRun.of("--model", dir.resolve("absent").toString(), "--dataset", dataset,
                "--output", "o", "--image_log", "i", "--resume_lora", dir.resolve("prev.safetensors").toString());
        assertEquals(2, run.exitCode());
        List<String> lines = run.err().lines().toList();
        assertEquals(2, lines.size(), run.err());
        assertTrue(lines.get(0).startsWith("sd-trainer: --model " + dir.resolve("absent") + ": no such directory"));
        assertTrue(lines.get(1).startsWith("sd-trainer: --resume_lora "));
    }

    @Test
    void badConfigFileExitsTwoNamingFileAndKey() throws IOException {
        Path file = config("typo.yaml", "learning_rate: 1e-4\n");
        CommandRun run = CommandRun.of("--config", file.toString());
        assertEquals(2, run.exitCode());
        assertEquals("sd-trainer: --config " + file + ": line 1: unknown key 'learning_rate'; that is the name in kohya's "
                + "sd-scripts, here it is 'lr'\n", run.err());
    }

    @Test
    void missingConfigFileExitsTwo() {
        CommandRun run = CommandRun.of("--config", dir.resolve("nope.yaml").toString());
        assertEquals(2, run.exitCode());
        assertTrue(run.err().startsWith("sd-trainer: --config " + dir.resolve("nope.yaml") + ": no such file"), run.err());
    }

    @Test
    void helpDocumentsEachOptionOnOneLine() {
        CommandRun run = CommandRun.of("--help");
        assertEquals(0, run.exitCode());
        List<String> lines = run.out().lines().toList();
        List<String> optionLines = lines.stream().filter(line -> line.matches(" {2,6}-.*")).toList();
        int optionCount = TrainCommand.newCommandLine().getCommandSpec().options().size();
        assertEquals(optionCount, optionLines.size(), run.out());
        int first = lines.indexOf(optionLines.get(0));
        assertEquals(optionLines, lines.subList(first, first + optionCount), "no wrapped lines inside the option list");
        for (String line : optionLines) {
            assertEquals(2, line.trim().split(" {2,}").length, "names and a description: " + line);
        }
        assertTrue(run.out().contains("--batch_size=N                             images per optimizer step (default: 4)"), run.out());
    }

    @Test
    void versionIsPrinted() {
        CommandRun run = CommandRun.of("--version");
        assertEquals(0, run.exitCode());
        assertTrue(run.out().startsWith("sd-trainer "), run.out());
    }

    // ---- Training recipe (issue 12) ----

    private static final String KOHYA_RECIPE_YAML = String.join("\n",
            "noise_offset: 0.05", "multires_noise_iterations: 6", "multires_noise_discount: 0.4", "ip_noise_gamma: 0.1",
            "zero_terminal_snr: true", "min_snr_gamma: 5", "debiased_estimation_loss: true", "loss_type: huber",
            "huber_schedule: exponential", "huber_c: 0.2", "shuffle_caption: true", "keep_tokens: 1",
            "caption_separator: ';'", "caption_dropout_rate: 0.05", "caption_tag_dropout_rate: 0.1",
            "caption_prefix: sks", "clip_skip: 2", "max_token_length: 225", "lr_scheduler: cosine_with_restarts",
            "lr_warmup_steps: 100", "lr_scheduler_num_cycles: 3", "lr_scheduler_power: 2", "");

    @Test
    void aKohyaRecipeParsesFromTheCommandLineAndFromAConfigFile() throws Exception {
        TrainConfig cli = parse("--noise_offset", "0.05", "--multires_noise_iterations", "6", "--multires_noise_discount",
                "0.4", "--ip_noise_gamma", "0.1", "--zero_terminal_snr", "--min_snr_gamma", "5",
                "--debiased_estimation_loss", "--loss_type", "huber", "--huber_schedule", "exponential", "--huber_c", "0.2",
                "--shuffle_caption", "--keep_tokens", "1", "--caption_separator", ";", "--caption_dropout_rate", "0.05",
                "--caption_tag_dropout_rate", "0.1", "--caption_prefix", "sks", "--clip_skip", "2",
                "--max_token_length", "225", "--lr_scheduler", "cosine_with_restarts", "--lr_warmup_steps", "100",
                "--lr_scheduler_num_cycles", "3", "--lr_scheduler_power", "2");
        TrainConfig file = parse("--config", config("recipe.yaml", KOHYA_RECIPE_YAML).toString());
        for (TrainConfig c : List.of(cli, file)) {
            assertEquals(0.05, c.noiseOffset().getAsDouble());
            assertEquals(6, c.multiresNoiseIterations().getAsInt());
            assertEquals(0.4, c.multiresNoiseDiscount());
            assertEquals(0.1, c.ipNoiseGamma().getAsDouble());
            assertTrue(c.zeroTerminalSnr());
            assertEquals(5.0, c.minSnrGamma().getAsDouble());
            assertTrue(c.debiasedEstimationLoss());
            assertEquals(sdtrainer.config.LossType.HUBER, c.lossType());
            assertEquals(sdtrainer.config.HuberSchedule.EXPONENTIAL, c.huberSchedule());
            assertEquals(0.2, c.huberC());
            assertTrue(c.shuffleCaption());
            assertEquals(1, c.keepTokens());
            assertEquals(";", c.captionSeparator());
            assertEquals(0.05, c.captionDropoutRate());
            assertEquals(0.1, c.captionTagDropoutRate());
            assertEquals("sks", c.captionPrefix().orElseThrow());
            assertEquals(2, c.clipSkip().getAsInt());
            assertEquals(225, c.maxTokenLength().getAsInt());
            assertEquals(LrScheduler.COSINE_WITH_RESTARTS, c.lrScheduler());
            assertEquals(100, c.lrWarmupSteps().orElseThrow().of(1000));
            assertEquals(3, c.lrSchedulerNumCycles());
            assertEquals(2.0, c.lrSchedulerPower());
        }
    }

    @Test
    void badRecipeValuesExitWithUsageErrors() {
        CommandRun run = CommandRun.of("--model", model, "--dataset", dataset, "--output", dir.resolve("o").toString(),
                "--image_log", dir.resolve("i").toString(), "--max_token_length", "100", "--caption_dropout_rate", "-0.5");
        assertEquals(2, run.exitCode());
        assertEquals(List.of("sd-trainer: --caption_dropout_rate -0.5 must be a probability in [0, 1], e.g. 0.1",
                "sd-trainer: --max_token_length 100 is not 75, 150 or 225"), run.err().lines().toList());
    }
}

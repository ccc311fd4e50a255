package sdtrainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigValidatorTest {

    @TempDir
    Path dir;

    private final Map<String, Object> values = new HashMap<>();

    @BeforeEach
    void validPaths() throws IOException {
        Files.createDirectories(dir.resolve("model/unet"));
        Files.createDirectories(dir.resolve("data"));
        values.put("model", dir.resolve("model"));
        values.put("dataset", dir.resolve("data"));
        values.put("output", dir.resolve("out/run1"));
        values.put("image_log", dir.resolve("out/images"));
    }

    private List<String> problemsWith(Object... keyValues) {
        for (int i = 0; i < keyValues.length; i += 2) {
            values.put((String) keyValues[i], keyValues[i + 1]);
        }
        return ConfigValidator.validate(ConfigLoader.merge(new TrainConfig(), values));
    }

    /** Exactly one problem, naming the option. */
    private String onlyProblem(String option, Object... keyValues) {
        List<String> problems = problemsWith(keyValues);
        assertEquals(1, problems.size(), problems::toString);
        assertTrue(problems.get(0).startsWith(option + " "), problems.get(0));
        return problems.get(0);
    }

    @Test
    void defaultsWithExistingPathsAreValid() {
        assertEquals(List.of(), problemsWith());
    }

    @Test
    void everyOptionSetToAValidValueIsValid() throws IOException {
        Path resume = Files.writeString(dir.resolve("prev.safetensors"), "");
        assertEquals(List.of(), problemsWith("resolution", "768,512", "batch_size", 6, "minibatch_repeat", 3,
                "lr", "1e-5,1e-4", "step_range", "0.25,0.75", "lora", 8, "lora_alpha", 4.0, "use_bucket", true,
                "mask", true, "resume_lora", resume, "device", "cuda:1", "threads", 4, "log_dir", dir.resolve("tb")));
    }

    @Test
    void requiredPathsAreNamed() {
        values.clear();
        List<String> problems = problemsWith();
        assertEquals(List.of(
                "--model is required; give a diffusers model folder or a single .safetensors file",
                "--dataset is required; give the dataset directory",
                "--output is required; give the path the trained weights are written to",
                "--image_log is required; give a directory for sample images"), problems);
    }

    @Test
    void modelMustExist() {
        assertTrue(onlyProblem("--model", "model", dir.resolve("nope")).contains("no such directory"));
    }

    @Test
    void modelMustBeInDiffusersLayout() throws IOException {
        Path flat = Files.createDirectories(dir.resolve("flat"));
        assertTrue(onlyProblem("--model", "model", flat).contains("has no unet/ folder"));
    }

    @Test
    void datasetMustExist() {
        assertTrue(onlyProblem("--dataset", "dataset", dir.resolve("nodata")).contains("no such directory"));
    }

    @Test
    void outputUnderAFileCannotBeCreated() throws IOException {
        Path file = Files.writeString(dir.resolve("file.txt"), "x");
        assertTrue(onlyProblem("--output", "output", file.resolve("run")).contains("is a file, not a directory"));
    }

    @Test
    void imageLogAndLogDirUnderAFileCannotBeCreated() throws IOException {
        Path file = Files.writeString(dir.resolve("file.txt"), "x");
        List<String> problems = problemsWith("image_log", file.resolve("img"), "log_dir", file.resolve("tb"));
        assertEquals(2, problems.size(), problems::toString);
        assertTrue(problems.get(0).startsWith("--image_log "), problems.get(0));
        assertTrue(problems.get(1).startsWith("--log_dir "), problems.get(1));
    }

    @Test
    void resumeLoraMustBeAFile() {
        assertTrue(onlyProblem("--resume_lora", "resume_lora", dir.resolve("missing.safetensors")).contains("no such file"));
    }

    @Test
    void batchSizeMustDivideByMinibatchRepeat() {
        assertEquals("--batch_size 6 is not divisible by --minibatch_repeat 4; make batch_size a multiple of 4",
                onlyProblem("--batch_size", "batch_size", 6, "minibatch_repeat", 4));
    }

    @ParameterizedTest
    @CsvSource({
        "batch_size, 0, --batch_size",
        "minibatch_repeat, 0, --minibatch_repeat",
        "epochs, 0, --epochs",
        "save_n_epochs, 0, --save_n_epochs",
        "lora, -4, --lora",
        "lora_alpha, -1, --lora_alpha",
        "eh_groups, 0, --eh_groups",
        "threads, -2, --threads"})
    void numbersOutOfRange(String key, String value, String option) {
        Object typed = key.equals("lora_alpha") ? (Object) Double.valueOf(value) : (Object) Integer.valueOf(value);
        onlyProblem(option, key, typed);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "resolution | 500,512 | --resolution",
        "resolution | 0 | --resolution",
        "resolution | wide | --resolution",
        "lr | fast | --lr",
        "lr | -1e-5 | --lr",
        "lr | 1e-5,1e-4,1e-3 | --lr",
        "step_range | 0.5,0.5 | --step_range",
        "step_range | 0,2 | --step_range",
        "step_range | 1 | --step_range",
        "device | gpu | --device",
        "device | cuda:x | --device"})
    void malformedText(String key, String value, String option) {
        String problem = onlyProblem(option, key, value);
        assertTrue(problem.contains("'" + value + "'"), "quotes what was given: " + problem);
    }

    @Test
    void maskNeedsBuckets() {
        assertEquals("--mask needs --use_bucket: masks come with the bucketed dataset made by preprocess",
                onlyProblem("--mask", "mask", true));
    }

    @Test
    void reportsAllProblemsAtOnce() {
        assertEquals(3, problemsWith("epochs", 0, "lr", "x", "mask", true).size());
    }

    // Optimizers (issue 13)

    @Test
    void optimizerArgsAsKohyaWritesThemAreValid() {
        assertEquals(List.of(), problemsWith("optimizer", OptimizerType.ADAMW8BIT, "optimizer_args",
                "weight_decay=0.01,betas=0.9,0.99,eps=1e-8,min_8bit_size=4096"));
        assertEquals(List.of(), problemsWith("optimizer", OptimizerType.PRODIGY, "optimizer_args",
                "d_coef=2,use_bias_correction=True,safeguard_warmup=True,betas=(0.9,0.99),d0=1e-5"));
        assertEquals(List.of(), problemsWith("optimizer", OptimizerType.ADAFACTOR, "optimizer_args",
                "scale_parameter=False,relative_step=False,warmup_init=False,beta1=None"));
        assertEquals(List.of(), problemsWith("optimizer", OptimizerType.SGD, "optimizer_args", "momentum=0.9,nesterov=True"));
        assertEquals(List.of(), problemsWith("optimizer", OptimizerType.LION, "optimizer_args", List.of("betas=0.95,0.98",
                "weight_decay=0.1")));
    }

    @Test
    void unknownOrMalformedOptimizerArgsAreOneLineEach() {
        String p = onlyProblem("--optimizer_args", "optimizer", OptimizerType.LION, "optimizer_args", "momentum=0.9");
        assertTrue(p.contains("'momentum' is not an argument of lion; it takes betas, weight_decay"), p);
        p = onlyProblem("--optimizer_args", "optimizer_args", "weight_decay");
        assertTrue(p.contains("'weight_decay' is not key=value"), p);
        p = onlyProblem("--optimizer_args", "optimizer_args", "betas=0.9");
        assertTrue(p.contains("betas=0.9 must be two numbers"), p);
        p = onlyProblem("--optimizer_args", "optimizer_args", "betas=0.9,1.5");
        assertTrue(p.contains("betas=0.9,1.5 must be two numbers in [0, 1)"), p);
        p = onlyProblem("--optimizer_args", "optimizer", OptimizerType.PRODIGY, "optimizer_args", "safeguard_warmup=yes");
        assertTrue(p.contains("safeguard_warmup=yes must be True or False"), p);
        p = onlyProblem("--optimizer_args", "optimizer", OptimizerType.SGD, "optimizer_args", "nesterov=True");
        assertTrue(p.contains("nesterov=True needs momentum > 0"), p);
        p = onlyProblem("--optimizer_args", "optimizer", OptimizerType.ADAFACTOR, "optimizer_args",
                "relative_step=False,warmup_init=True");
        assertTrue(p.contains("warmup_init=True needs relative_step=True"), p);
        assertEquals(1, problemsWith("optimizer_args", "eps=1e-8,eps=1e-6").size());
    }

    @Test
    void prodigyNeedsOneLearningRate() {
        String p = onlyProblem("--lr", "optimizer", OptimizerType.PRODIGY, "train_encoder", true, "lr", "0.5,1");
        assertTrue(p.contains("prodigy needs one learning rate"), p);
        assertEquals(List.of(), problemsWith("optimizer", OptimizerType.PRODIGY, "train_encoder", true, "lr", "0,1"));
    }

    // ---- Training recipe (issue 12) ----

    @Test
    void aWholeKohyaRecipeIsValid() {
        assertEquals(List.of(), problemsWith("noise_offset", 0.05, "adaptive_noise_scale", 0.01,
                "multires_noise_iterations", 6, "multires_noise_discount", 0.4, "ip_noise_gamma", 0.1,
                "zero_terminal_snr", true, "v_prediction", true, "min_snr_gamma", 5.0, "debiased_estimation_loss", true,
                "scale_v_pred_loss_like_noise_pred", true, "loss_type", "smooth_l1", "huber_c", 0.2,
                "huber_schedule", "exponential", "huber_scale", 2.0, "shuffle_caption", true, "keep_tokens", 1,
                "caption_separator", ";", "caption_dropout_rate", 0.05, "caption_tag_dropout_rate", 0.1,
                "caption_prefix", "sks", "caption_suffix", "style", "clip_skip", 2, "max_token_length", 225,
                "lr_scheduler", "cosine_with_restarts", "lr_warmup_steps", "0.1", "lr_scheduler_num_cycles", 3,
                "lr_scheduler_power", 2.0));
        assertEquals(List.of(), problemsWith("lr_scheduler", "polynomial", "lr_warmup_steps", "5%"));
        assertEquals(List.of(), problemsWith("lr_scheduler", "constant", "lr_warmup_steps", "0"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "noise_offset | -0.1 | --noise_offset",
        "multires_noise_iterations | 0 | --multires_noise_iterations",
        "multires_noise_discount | 0 | --multires_noise_discount",
        "ip_noise_gamma | -1 | --ip_noise_gamma",
        "min_snr_gamma | 0 | --min_snr_gamma",
        "huber_c | 0 | --huber_c",
        "huber_scale | -1 | --huber_scale",
        "caption_dropout_rate | -0.1 | --caption_dropout_rate",
        "caption_tag_dropout_rate | 1.5 | --caption_tag_dropout_rate",
        "keep_tokens | -1 | --keep_tokens",
        "clip_skip | 0 | --clip_skip",
        "max_token_length | 100 | --max_token_length",
        "lr_scheduler_num_cycles | 0 | --lr_scheduler_num_cycles",
        "lr_scheduler_power | 0 | --lr_scheduler_power"})
    void recipeNumbersOutOfRange(String key, String value, String option) {
        boolean integer = key.equals("multires_noise_iterations") || key.equals("keep_tokens") || key.equals("clip_skip")
                || key.equals("max_token_length") || key.equals("lr_scheduler_num_cycles");
        onlyProblem(option, key, integer ? (Object) Integer.valueOf(value) : (Object) Double.valueOf(value));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "lr_warmup_steps | -5 | --lr_warmup_steps",
        "lr_warmup_steps | 1.5 | --lr_warmup_steps",
        "lr_warmup_steps | 120% | --lr_warmup_steps",
        "lr_warmup_steps | soon | --lr_warmup_steps"})
    void malformedWarmup(String key, String value, String option) {
        String problem = onlyProblem(option, key, value, "lr_scheduler", "cosine");
        assertTrue(problem.contains("'" + value + "'"), "quotes what was given: " + problem);
    }

    @Test
    void adaptiveNoiseScaleNeedsANoiseOffset() {
        assertTrue(onlyProblem("--adaptive_noise_scale", "adaptive_noise_scale", 0.01).contains("needs --noise_offset"));
    }

    @Test
    void warmupWithTheConstantScheduleIsRefusedAsKohyaDoes() {
        assertTrue(onlyProblem("--lr_warmup_steps", "lr_warmup_steps", "100").contains("constant_with_warmup"));
    }

    @Test
    void anEmptyCaptionSeparatorIsRefused() {
        assertTrue(onlyProblem("--caption_separator", "caption_separator", "").contains("empty"));
    }

    @Test
    void exponentialHuberScheduleNeedsACBelowOne() {
        assertTrue(onlyProblem("--huber_c", "loss_type", "huber", "huber_schedule", "exponential", "huber_c", 1.5)
                .contains("below 1"));
    }

    // ---- Sample images (issue 13) ----

    @Test
    void validSampleOptionsPass() throws IOException {
        Path prompts = Files.writeString(dir.resolve("p.txt"), "a cat --ss euler\n");
        assertEquals(List.of(), problemsWith("sample_prompts", prompts.toString(), "sample_sampler", "dpmpp_2m_karras",
                "sample_every_n_steps", 10, "sample_every_n_epochs", 2, "sample_at_first", true));
    }

    @Test
    void badSampleOptionsNameTheOptionAndTheFileLine() throws IOException {
        Path prompts = Files.writeString(dir.resolve("p.txt"), "a cat\na dog --q 1\n");
        List<String> problems = problemsWith("sample_prompts", prompts.toString(), "sample_sampler", "plms",
                "sample_every_n_steps", 0, "sample_every_n_epochs", -1);
        assertEquals(4, problems.size(), problems.toString());
        assertTrue(problems.contains("--sample_prompts " + prompts + ":2: unknown flag --q; known: --n --w --h --s --l --d --ss"), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.startsWith("--sample_sampler: unknown sampler 'plms'")), problems.toString());
        assertTrue(problems.contains("--sample_every_n_steps 0 must be at least 1"), problems.toString());
        assertTrue(problems.contains("--sample_every_n_epochs -1 must be at least 1"), problems.toString());
        assertEquals(List.of("--sample_prompts " + dir.resolve("none.txt") + ": no such file; give a prompt file (.txt, .toml or .json)"),
                problemsWith("sample_prompts", dir.resolve("none.txt").toString(), "sample_sampler", "ddim",
                        "sample_every_n_steps", 1, "sample_every_n_epochs", 1));
    }

    @Test
    void validationOptionsAreChecked() throws IOException {
        Path val = Files.createDirectories(dir.resolve("val"));
        assertEquals(List.of(), problemsWith("validation_split", 0.1, "validate_every_n_epochs", 2, "validate_every_n_steps", 50,
                "max_validation_steps", 4, "validation_seed", 7L));
        values.remove("validation_split");
        assertEquals(List.of(), problemsWith("validation_dataset", val.toString()));
        values.remove("validation_dataset");
        for (Object bad : new Object[] {-0.1, 1.0, 1.5}) {
            assertEquals("--validation_split " + bad + " must be a share between 0 and 1 (e.g. 0.1), or 0 for none",
                    onlyProblem("--validation_split", "validation_split", bad));
        }
        assertEquals(List.of(), problemsWith("validation_split", 0.0), "0 is off");
        List<String> both = problemsWith("validation_split", 0.2, "validation_dataset", dir.resolve("nope").toString(),
                "validate_every_n_epochs", 0, "validate_every_n_steps", -3, "max_validation_steps", 0);
        assertEquals(List.of(
                "--validation_split and --validation_dataset both name the validation samples; give one of them",
                "--validation_dataset " + dir.resolve("nope") + ": no such directory",
                "--validate_every_n_epochs 0 must be at least 1",
                "--validate_every_n_steps -3 must be at least 1",
                "--max_validation_steps 0 must be at least 1"), both);
        values.remove("validation_split");
        values.remove("validate_every_n_epochs");
        values.remove("validate_every_n_steps");
        values.remove("max_validation_steps");
        assertEquals("--validation_dataset " + dir.resolve("data") + " is the training --dataset; validate on other samples",
                onlyProblem("--validation_dataset", "validation_dataset", dir.resolve("data").toString()));
    }
}

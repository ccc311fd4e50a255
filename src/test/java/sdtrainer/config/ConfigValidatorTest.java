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
}

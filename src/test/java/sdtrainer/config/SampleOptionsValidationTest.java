package sdtrainer.config;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The sample-image options (issue 13) as ConfigValidator checks them. */
class SampleOptionsValidationTest {
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
        for (int i = 0; i < keyValues.length; i += 2) values.put((String) keyValues[i], keyValues[i + 1]);
        return ConfigValidator.validate(ConfigLoader.merge(new TrainConfig(), values));
    }

    @Test
    void validOptionsPass() throws IOException {
        Path prompts = Files.writeString(dir.resolve("p.txt"), "a cat --ss euler\n");
        assertEquals(List.of(), problemsWith("sample_prompts", prompts.toString(), "sample_sampler", "dpmpp_2m_karras",
                "sample_every_n_steps", 10, "sample_every_n_epochs", 2, "sample_at_first", true));
    }

    @Test
    void badValuesNameTheOptionAndTheFileLine() throws IOException {
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
}

package sdtrainer.config;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The shipped example configs must load: a renamed or removed key fails here, not for a user. */
class ExampleConfigsTest {

    @Test
    void everyExampleConfigLoads() throws IOException, ConfigException {
        List<Path> examples;
        try (Stream<Path> files = Files.list(Path.of("configs"))) {
            examples = files.filter(f -> f.toString().matches(".*\\.(ya?ml|json)")).sorted().toList();
        }
        assertFalse(examples.isEmpty(), "configs/ holds examples");
        for (Path example : examples) {
            TrainConfig config = ConfigLoader.load(example);
            assertTrue(config.model().isPresent(), example + " names a model");
            // Paths are placeholders for the user to edit; the values must parse.
            assertDoesNotThrow(config::resolution, example + ": resolution");
            assertDoesNotThrow(config::learningRates, example + ": lr");
            assertDoesNotThrow(config::stepRange, example + ": step_range");
        }
    }
}

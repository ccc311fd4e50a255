package sdtrainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command's own checks; the demo itself runs in {@code sdtrainer.demo.DemoTest}. */
class DemoCommandTest {
    @TempDir
    Path dir;

    @Test
    void helpListsTheDemoWithItsOptions() {
        CommandRun root = CommandRun.of("--help");
        assertTrue(root.out().contains("demo"), root.out());
        CommandRun help = CommandRun.of("demo", "--help");
        assertEquals(0, help.exitCode());
        assertTrue(help.out().contains("--output") && help.out().contains("--steps"), help.out());
    }

    @Test
    void stepsBelowOneAreAUsageError() {
        CommandRun run = CommandRun.of("demo", "--output", dir.resolve("d").toString(), "--steps", "0");
        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("--steps must be at least 1"), run.err());
        assertTrue(Files.notExists(dir.resolve("d")));
    }

    @Test
    void aFolderThatIsNotEmptyIsRefusedBeforeAnythingIsWritten() throws IOException {
        Files.writeString(dir.resolve("mine.txt"), "keep");
        CommandRun run = CommandRun.of("demo", "--output", dir.toString(), "--device", "cpu", "--threads", "0");
        assertEquals(1, run.exitCode());
        assertTrue(run.err().contains(dir + ": is not empty"), run.err());
        try (var entries = Files.list(dir)) {
            assertEquals(1, entries.count());
        }
    }
}

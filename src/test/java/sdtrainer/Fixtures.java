package sdtrainer;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The shared reference fixtures (../shared/fixtures): one place for their location; tests skip when absent. */
public final class Fixtures {
    public static final Path ROOT = Path.of("..", "shared", "fixtures");
    public static final Path TINY_SD15 = ROOT.resolve("tiny-sd15");

    private Fixtures() {}

    /** A path under the fixtures root (it may not exist). */
    public static Path path(String first, String... more) {
        return ROOT.resolve(Path.of(first, more));
    }

    /** As {@link #path}, skipping the calling test when the file or folder is absent. */
    public static Path require(String first, String... more) {
        Path p = path(first, more);
        assumeTrue(Files.exists(p), "fixture absent: " + p);
        return p;
    }
}

package sdtrainer;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Programs some tests run (Chromium, shellcheck, curl). Outside CI a missing one skips the test; under
 * {@code CI=true} it fails it, because {@code .ci/run} installs them and a skip there would prove nothing.
 */
public final class ExternalTool {
    private ExternalTool() {
    }

    public static boolean onPath(String program) {
        String path = System.getenv("PATH");
        return path != null && Stream.of(path.split(":")).anyMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, program)));
    }

    /** Skips (outside CI) or fails (under CI=true) the calling test unless {@code present}. */
    public static void require(boolean present, String missing) {
        if (inCi()) {
            assertTrue(present, missing + " (CI=true: .ci/run should have installed it)");
        } else {
            assumeTrue(present, missing);
        }
    }

    /** {@link #require} for programs on the PATH, e.g. {@code requireOnPath("shellcheck")}. */
    public static void requireOnPath(String... programs) {
        for (String p : programs) require(onPath(p), p + " is not installed (Debian: apt-get install " + p + ")");
    }

    static boolean inCi() {
        return "true".equalsIgnoreCase(System.getenv("CI"));
    }
}

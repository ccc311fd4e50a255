package sdtrainer;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When the jar relaunches itself with tcmalloc preloaded, and that the relaunched process really runs with it. */
class AllocatorLaunchTest {
    private static final String TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4";
    private static final String[] TRAIN = {"--model", "m", "--dataset", "d", "--output", "o"};

    private static Optional<Map<String, String>> plan(Map<String, String> env, String os, String... args) {
        Set<String> present = Set.of(TCMALLOC, "/opt/my/libjemalloc.so.2");
        return AllocatorLaunch.plan(env, os, args, p -> present.contains(p.toString()));
    }

    @Test
    void relaunchesWithTheFirstAllocatorFoundUnlessToldOrAlreadyDone() {
        Map<String, String> add = plan(Map.of(), "Linux", TRAIN).orElseThrow();
        assertEquals(TCMALLOC, add.get("LD_PRELOAD"));
        assertEquals(TCMALLOC, add.get(AllocatorLaunch.CHILD));
        assertEquals(TCMALLOC + ":/x/libother.so", plan(Map.of("LD_PRELOAD", "/x/libother.so"), "Linux", TRAIN)
                .orElseThrow().get("LD_PRELOAD"), "an existing preload is kept");
        assertEquals("/opt/my/libjemalloc.so.2", plan(Map.of(AllocatorLaunch.VARIABLE, "/opt/my/libjemalloc.so.2"), "Linux", TRAIN)
                .orElseThrow().get("LD_PRELOAD"), "the library the variable names");

        assertTrue(plan(Map.of(AllocatorLaunch.VARIABLE, "system"), "Linux", TRAIN).isEmpty(), "system: glibc's malloc");
        assertTrue(plan(Map.of(AllocatorLaunch.VARIABLE, "/missing.so"), "Linux", TRAIN).isEmpty(), "a named library that is absent");
        assertTrue(plan(Map.of(AllocatorLaunch.CHILD, TCMALLOC), "Linux", TRAIN).isEmpty(), "the relaunched process itself");
        assertTrue(plan(Map.of("LD_PRELOAD", "/usr/lib/libtcmalloc.so.4"), "Linux", TRAIN).isEmpty(), "already preloaded");
        assertTrue(plan(Map.of(), "Mac OS X", TRAIN).isEmpty(), "only on Linux");
        assertTrue(plan(Map.of(), "Linux", "sample", "--help").isEmpty(), "help needs no engine");
        assertTrue(plan(Map.of(), "Linux").isEmpty(), "no arguments: usage");
        assertTrue(AllocatorLaunch.plan(Map.of(), "Linux", TRAIN, p -> false).isEmpty(), "no allocator installed");
    }

    /** The jar's main, run as a user runs it: the engine line of the relaunched process names tcmalloc. */
    @Test
    void theRelaunchedProcessRunsWithTcmalloc(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        ExternalTool.require(Files.isRegularFile(Path.of(TCMALLOC)),
                TCMALLOC + " is not installed (Debian: apt-get install libtcmalloc-minimal4)");
        Path fixture = Fixtures.require("tiny-sd15");
        assertTrue(run(tmp, Map.of(), fixture).contains("allocator libtcmalloc_minimal.so.4"));
        assertTrue(run(tmp, Map.of(AllocatorLaunch.VARIABLE, "system"), fixture).contains("allocator glibc"));
    }

    private static String run(Path tmp, Map<String, String> env, Path fixture) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "bench", "--model", fixture.toString(),
                "--resolution", "32", "--steps", "1", "--device", "cpu"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("out.txt").toFile());
        pb.environment().remove("LD_PRELOAD");
        pb.environment().remove(AllocatorLaunch.CHILD);
        pb.environment().remove(AllocatorLaunch.VARIABLE);
        pb.environment().putAll(env);
        Process p = pb.start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "bench finished");
        String out = Files.readString(tmp.resolve("out.txt"));
        assertEquals(0, p.exitValue(), out);
        return out;
    }
}

package sdtrainer.log;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class WandbTest {

    /** A fake {@code wandb} in {@code bin} that records its arguments in {@code args.txt} and runs {@code then}. */
    private static Path fakeWandb(Path bin, String then) throws IOException {
        assumeTrue(Files.isExecutable(Path.of("/bin/sh")), "needs a POSIX shell");
        Files.createDirectories(bin);
        Path exe = bin.resolve("wandb");
        Files.writeString(exe, "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"" + bin.resolve("args.txt") + "\"\n" + then + "\n");
        Files.setPosixFilePermissions(exe, PosixFilePermissions.fromString("rwxr-xr-x"));
        return exe;
    }

    private static Function<String, String> env(Path bin, String key) {
        Map<String, String> vars = key == null ? Map.of("PATH", "/nonexistent:" + bin) : Map.of("PATH", "/nonexistent:" + bin, "WANDB_API_KEY", key);
        return vars::get;
    }

    @Test
    void commandNamesTheAbsoluteDirectoryAndAStableRunId(@TempDir Path dir) {
        Path logs = dir.resolve("run one").resolve("logs");
        String command = Wandb.syncCommand(logs);
        String id = Wandb.runId(logs.toAbsolutePath());
        assertEquals("wandb sync --sync-tensorboard --id " + id + " '" + logs.toAbsolutePath() + "'", command);
        assertTrue(id.matches("sdtrainer-[0-9a-f]{12}"), id);
        assertEquals(command, Wandb.syncCommand(dir.resolve("run one/./logs")), "same directory, same command");
        assertFalse(command.equals(Wandb.syncCommand(dir.resolve("run two/logs"))), "another run, another id");
    }

    @Test
    void shellQuoting() {
        assertEquals("/runs/a-b_c.1", Wandb.shellQuote("/runs/a-b_c.1"));
        assertEquals("'/runs/it'\\''s here'", Wandb.shellQuote("/runs/it's here"));
        assertEquals("'$HOME'", Wandb.shellQuote("$HOME"));
    }

    @Test
    void runsTheCommandWhenExecutableAndKeyArePresent(@TempDir Path dir) throws IOException {
        Path bin = dir.resolve("bin");
        fakeWandb(bin, "exit 0");
        Path logs = dir.resolve("logs");
        assertTrue(Wandb.syncIfAvailable(logs, env(bin, "secret"), Duration.ofSeconds(60)));
        assertEquals(List.of("sync", "--sync-tensorboard", "--id", Wandb.runId(logs.toAbsolutePath()), logs.toAbsolutePath().toString()),
                Files.readAllLines(bin.resolve("args.txt")));
    }

    @Test
    void skipsWithoutKeyOrExecutable(@TempDir Path dir) throws IOException {
        Path bin = dir.resolve("bin");
        fakeWandb(bin, "exit 0");
        assertFalse(Wandb.syncIfAvailable(dir, env(bin, null), Duration.ofSeconds(60)));
        assertFalse(Wandb.syncIfAvailable(dir, env(bin, " "), Duration.ofSeconds(60)));
        assertFalse(Wandb.syncIfAvailable(dir, env(dir.resolve("empty"), "secret"), Duration.ofSeconds(60)));
        assertFalse(Wandb.syncIfAvailable(dir, name -> null, Duration.ofSeconds(60)));
        assertFalse(Files.exists(bin.resolve("args.txt")), "never ran");
    }

    @Test
    void aNonExecutableFileIsNotTheCommand(@TempDir Path dir) throws IOException {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Files.writeString(bin.resolve("wandb"), "not a program");
        Files.setPosixFilePermissions(bin.resolve("wandb"), PosixFilePermissions.fromString("rw-r--r--"));
        assertTrue(Wandb.executable(env(bin, "k")).isEmpty());
    }

    @Test
    void failureAndHangAreWarningsNotExceptions(@TempDir Path dir) throws IOException {
        Path failing = dir.resolve("failing");
        fakeWandb(failing, "echo 'wandb: ERROR api key rejected'; exit 3");
        assertFalse(Wandb.syncIfAvailable(dir, env(failing, "k"), Duration.ofSeconds(60)));
        assertTrue(Files.exists(failing.resolve("args.txt")), "it did run");

        Path hanging = dir.resolve("hanging");
        fakeWandb(hanging, "exec sleep 600");
        assertFalse(Wandb.syncIfAvailable(dir, env(hanging, "k"), Duration.ofMillis(300)));
    }

    @Test
    void announceSaysWhetherItUploads(@TempDir Path dir) throws IOException {
        Path bin = dir.resolve("bin");
        fakeWandb(bin, "exit 0");
        Path logs = dir.resolve("logs");
        assertTrue(announce(logs, env(bin, "k")).contains("uploading automatically at each save with " + bin.resolve("wandb")));
        String noKey = announce(logs, env(bin, null));
        assertTrue(noKey.startsWith("wandb: upload this run's TensorBoard logs with: " + Wandb.syncCommand(logs) + "\n"), noKey);
        assertTrue(noKey.contains("WANDB_API_KEY is not set"));
        assertTrue(announce(logs, name -> null).contains("no 'wandb' on PATH"));
    }

    private static String announce(Path logs, Function<String, String> env) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Wandb.announce(new PrintStream(bytes, true, StandardCharsets.UTF_8), logs, env);
        return bytes.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n");
    }
}

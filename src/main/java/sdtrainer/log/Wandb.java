package sdtrainer.log;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * {@code --wandb}: Weights &amp; Biases gets the run through its own uploader, {@code wandb sync --sync-tensorboard},
 * pointed at the TensorBoard directory the trainer writes anyway. No Java client and no network code here: the
 * command is printed for the user, and run at each save when the {@code wandb} executable and an API key are there.
 * An upload that fails or hangs is a warning; it never stops training.
 */
public final class Wandb {
    private static final Logger LOG = LoggerFactory.getLogger(Wandb.class);

    static final Duration TIMEOUT = Duration.ofMinutes(5);
    private static final Pattern SHELL_SAFE = Pattern.compile("[A-Za-z0-9_./:=@%+-]+");

    private Wandb() {}

    /**
     * The upload command for {@code tbDir}. The fixed {@code --id} (from the directory's absolute path) makes every
     * sync of the same run update one W&amp;B run instead of adding a new one each time.
     */
    public static String syncCommand(Path tbDir) {
        return String.join(" ", arguments("wandb", tbDir).stream().map(Wandb::shellQuote).toList());
    }

    /** Prints the upload command and whether this process will run it at each save; call at start and at end. */
    public static void announce(PrintStream out, Path tbDir) {
        announce(out, tbDir, System::getenv);
    }

    /** Runs the upload when {@code wandb} is on PATH and WANDB_API_KEY is set; true when it ran and succeeded. */
    public static boolean syncIfAvailable(Path tbDir) {
        return syncIfAvailable(tbDir, System::getenv, TIMEOUT);
    }

    static void announce(PrintStream out, Path tbDir, Function<String, String> env) {
        out.println("wandb: upload this run's TensorBoard logs with: " + syncCommand(tbDir));
        Optional<Path> exe = executable(env);
        if (exe.isEmpty()) {
            out.println("wandb: not uploading automatically: no 'wandb' on PATH (pip install wandb)");
        } else if (!hasApiKey(env)) {
            out.println("wandb: not uploading automatically: WANDB_API_KEY is not set");
        } else {
            out.println("wandb: uploading automatically at each save with " + exe.get());
        }
    }

    static boolean syncIfAvailable(Path tbDir, Function<String, String> env, Duration timeout) {
        Optional<Path> exe = executable(env);
        if (exe.isEmpty() || !hasApiKey(env)) {
            LOG.debug("wandb sync skipped: {}", exe.isEmpty() ? "no wandb on PATH" : "WANDB_API_KEY not set");
            return false;
        }
        Path log = null;
        Process process = null;
        try {
            log = Files.createTempFile("sd-trainer-wandb-sync", ".log");
            process = new ProcessBuilder(arguments(exe.get().toString(), tbDir))
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                LOG.warn("wandb sync did not finish within {} s and was stopped; training goes on. Upload later with: {}",
                        timeout.toSeconds(), syncCommand(tbDir));
                return false;
            }
            if (process.exitValue() != 0) {
                LOG.warn("wandb sync failed (exit code {}); training goes on. Its output ends with:\n{}\nUpload later with: {}",
                        process.exitValue(), tail(log, 20), syncCommand(tbDir));
                return false;
            }
            LOG.info("wandb sync uploaded {}", tbDir);
            return true;
        } catch (IOException e) {
            LOG.warn("wandb sync could not run ({}); training goes on. Upload later with: {}", e.getMessage(), syncCommand(tbDir));
            return false;
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            return false;
        } finally {
            if (log != null) {
                try {
                    Files.deleteIfExists(log);
                } catch (IOException e) {
                    LOG.debug("could not delete {}", log, e);
                }
            }
        }
    }

    /** The first executable regular file named {@code wandb} on PATH. */
    static Optional<Path> executable(Function<String, String> env) {
        String path = env.apply("PATH");
        if (path == null) return Optional.empty();
        for (String dir : path.split(Pattern.quote(File.pathSeparator))) {
            if (dir.isEmpty()) continue;
            try {
                Path candidate = Path.of(dir, "wandb");
                if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) return Optional.of(candidate);
            } catch (InvalidPathException e) {
                LOG.debug("PATH entry '{}' is not a path", dir);
            }
        }
        return Optional.empty();
    }

    private static boolean hasApiKey(Function<String, String> env) {
        String key = env.apply("WANDB_API_KEY");
        return key != null && !key.isBlank();
    }

    private static List<String> arguments(String executable, Path tbDir) {
        Path dir = tbDir.toAbsolutePath().normalize();
        return List.of(executable, "sync", "--sync-tensorboard", "--id", runId(dir), dir.toString());
    }

    /** A W&amp;B run id stable for one TensorBoard directory: letters, digits and a dash only. */
    static String runId(Path absoluteDir) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(absoluteDir.toString().getBytes(StandardCharsets.UTF_8));
            return "sdtrainer-" + HexFormat.of().formatHex(hash, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }

    static String shellQuote(String word) {
        return SHELL_SAFE.matcher(word).matches() ? word : "'" + word.replace("'", "'\\''") + "'";
    }

    private static String tail(Path file, int lines) throws IOException {
        // Decoding bytes (not readAllLines) replaces malformed UTF-8 instead of failing on it.
        List<String> all = new String(Files.readAllBytes(file), StandardCharsets.UTF_8).lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }
}

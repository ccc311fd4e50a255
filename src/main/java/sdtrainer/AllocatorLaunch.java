package sdtrainer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Runs the jar again with tcmalloc (or jemalloc) preloaded, as torch's own CPU launcher does. libtorch frees and
 * allocates its large activations at every op; glibc's malloc hands every block over 32 MiB back to the kernel
 * and maps it anew, so each op pays a page fault per 4 KiB (the VAE encode of 10 images at 256 px: 1.9 M minor
 * faults, 2x slower than under tcmalloc). A process cannot change its own allocator once started, hence the
 * re-exec. {@code SD_TRAINER_ALLOCATOR=system} keeps glibc's; {@code SD_TRAINER_ALLOCATOR=/path/lib.so} names
 * the library.
 */
public final class AllocatorLaunch {
    static final String VARIABLE = "SD_TRAINER_ALLOCATOR";
    /** Set (to anything): the relaunch runs without the class-data archive ({@link ClassArchive}). */
    static final String NO_ARCHIVE = "SD_TRAINER_NO_CLASS_ARCHIVE";
    /** Set in the relaunched process, so it does not relaunch again. */
    static final String CHILD = "SD_TRAINER_ALLOCATOR_PRELOADED";
    static final List<String> CANDIDATES = List.of(
            "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4",
            "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4", "/usr/lib64/libtcmalloc_minimal.so.4",
            "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2", "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
            "/usr/lib64/libjemalloc.so.2");

    private AllocatorLaunch() {}

    /** The environment additions of the relaunch, or empty when this process should run as it is. */
    static Optional<Map<String, String>> plan(Map<String, String> env, String osName, String[] args,
                                              Predicate<Path> isFile) {
        String choice = env.getOrDefault(VARIABLE, "");
        if (env.containsKey(CHILD) || choice.equals("system") || !osName.toLowerCase().startsWith("linux")) {
            return Optional.empty();
        }
        String preload = env.getOrDefault("LD_PRELOAD", "");
        if (preloaded(preload).isPresent()) return Optional.empty();
        for (String a : args) {
            // no engine work: not worth a second JVM start
            if (a.equals("-h") || a.equals("--help") || a.equals("-V") || a.equals("--version")) return Optional.empty();
        }
        if (args.length == 0) return Optional.empty();
        Optional<String> library = choice.isEmpty()
                ? CANDIDATES.stream().filter(c -> isFile.test(Path.of(c))).findFirst()
                : Optional.of(choice).filter(c -> isFile.test(Path.of(c)));
        if (library.isEmpty()) return Optional.empty();
        Map<String, String> add = new HashMap<>();
        add.put("LD_PRELOAD", preload.isEmpty() ? library.get() : library.get() + ":" + preload);
        add.put(CHILD, library.get());
        return Optional.of(add);
    }

    /**
     * Relaunches this JVM with the same command line and the allocator preloaded, and returns its exit code;
     * empty when there is nothing to preload or the command line cannot be read.
     */
    static Optional<Integer> relaunch(String[] args) {
        if (System.getenv(CHILD) != null) {
            haltWithParent();
            return Optional.empty();
        }
        Optional<Map<String, String>> add = plan(System.getenv(), System.getProperty("os.name", ""), args, Files::isRegularFile);
        ProcessHandle.Info info = ProcessHandle.current().info();
        if (add.isEmpty() || info.command().isEmpty() || info.arguments().isEmpty()) return Optional.empty();
        Optional<ClassArchive> classes = System.getenv().containsKey(NO_ARCHIVE) ? Optional.empty()
                : ClassArchive.forThisJar(System.getenv());
        List<String> command = new ArrayList<>();
        command.add(info.command().get());
        classes.ifPresent(c -> command.addAll(c.jvmOptions()));
        command.addAll(List.of(info.arguments().get()));
        // stdin: a pipe that closes when this process dies (see haltWithParent); no command reads stdin
        ProcessBuilder pb = new ProcessBuilder(command).inheritIO().redirectInput(ProcessBuilder.Redirect.PIPE);
        pb.environment().putAll(add.get());
        try {
            Process child = pb.start();
            // SIGINT/SIGTERM of this process alone reach the run as SIGTERM (it stops after its step and saves);
            // the exit waits for that, as it would without the relaunch
            Thread stop = new Thread(() -> {
                child.toHandle().destroy(); // SIGTERM; Process.destroy would also close the stdin pipe
                try {
                    child.waitFor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            Runtime.getRuntime().addShutdownHook(stop);
            int code = child.waitFor();
            classes.ifPresent(c -> c.settle(code));
            try {
                Runtime.getRuntime().removeShutdownHook(stop);
            } catch (IllegalStateException shuttingDown) {
                // a signal started the shutdown: the hook has waited for the child and the JVM exits by the signal
            }
            return Optional.of(code);
        } catch (java.io.IOException e) {
            return Optional.empty(); // could not start: run here, with glibc's allocator
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.of(130);
        }
    }

    /**
     * In the relaunched process: a SIGKILL of the launching process (which runs no hook) kills this one too, at
     * once. Its stdin is a pipe the launcher holds open and never writes; the kernel closes it when the launcher
     * dies, however it dies.
     */
    private static void haltWithParent() {
        Thread watch = new Thread(() -> {
            try {
                while (System.in.read() >= 0) {
                    // the launcher writes nothing; read on until the end of the pipe
                }
            } catch (java.io.IOException e) {
                // a broken pipe is the launcher's end too
            }
            Runtime.getRuntime().halt(137);
        }, "sd-trainer-launcher-watch");
        watch.setDaemon(true);
        watch.start();
    }

    /** The file name of the tcmalloc or jemalloc in an {@code LD_PRELOAD} list (null: none), or empty. */
    public static Optional<String> preloaded(String preload) {
        if (preload == null) return Optional.empty();
        for (String lib : preload.split(":")) {
            if (lib.contains("tcmalloc") || lib.contains("jemalloc")) return Optional.of(Path.of(lib).getFileName().toString());
        }
        return Optional.empty();
    }

    /** The pid the user started: the launching process when this one is its relaunch, else this one. */
    public static long userPid() {
        ProcessHandle self = ProcessHandle.current();
        return System.getenv(CHILD) == null ? self.pid() : self.parent().map(ProcessHandle::pid).orElse(self.pid());
    }
}

package sdtrainer;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The relaunched JVM's class-data archive (AppCDS): the jar's classes as the first run loaded them, mapped at
 * start instead of read and verified again, which saves about a quarter second of every start. The first run
 * of a jar writes it at exit to a file of its own, renamed into place once that run has ended well; later runs
 * map it. One archive per jar file (path, size and time in its name), under {@code $XDG_CACHE_HOME/sd-trainer}
 * or {@code ~/.cache/sd-trainer}; a missing or unusable one only costs the saving. The JVM's notes about it
 * are silenced, so they never mix with a command's output.
 */
record ClassArchive(Path archive, Path fresh) {
    private static final List<String> QUIET = List.of("-Xlog:cds=off", "-Xlog:cds+dynamic=off");

    /** The archive of the jar this class was loaded from; empty when it does not run from a jar. */
    static Optional<ClassArchive> forThisJar(Map<String, String> env) {
        try {
            Path jar = Path.of(ClassArchive.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (!Files.isRegularFile(jar) || !jar.toString().endsWith(".jar")) return Optional.empty();
            String cache = env.getOrDefault("XDG_CACHE_HOME", "");
            Path dir = cache.isEmpty() ? Path.of(System.getProperty("user.home", ""), ".cache", "sd-trainer") : Path.of(cache, "sd-trainer");
            if (!dir.isAbsolute()) return Optional.empty(); // no home (user.home "?"): never a folder in the working directory
            String id = Integer.toHexString(jar.toAbsolutePath().toString().hashCode()) + "-" + Files.size(jar) + "-"
                    + Files.getLastModifiedTime(jar).toMillis();
            Path archive = dir.resolve("classes-" + id + ".jsa");
            return Optional.of(new ClassArchive(archive, dir.resolve("classes-" + id + ".jsa." + ProcessHandle.current().pid())));
        } catch (IOException | URISyntaxException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** The JVM options: map the archive if there is one, else write it at exit. */
    List<String> jvmOptions() {
        if (Files.isRegularFile(archive)) {
            return concat("-XX:SharedArchiveFile=" + archive);
        }
        try {
            Files.createDirectories(archive.getParent());
        } catch (IOException e) {
            return List.of();
        }
        return concat("-XX:ArchiveClassesAtExit=" + fresh);
    }

    /** After the relaunch ended: a fresh archive of a successful run takes its place, any other is removed. */
    void settle(int exitCode) {
        try {
            if (exitCode == 0 && Files.isRegularFile(fresh) && !Files.exists(archive)) {
                Files.move(fresh, archive, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.deleteIfExists(fresh);
        } catch (IOException e) {
            // another run settled it first, or the cache is not writable: the next run tries again
        }
    }

    private static List<String> concat(String option) {
        return List.of(QUIET.get(0), QUIET.get(1), option);
    }
}

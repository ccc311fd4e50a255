package sdtrainer.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Replaces a directory as a whole: the new content is written into a temporary directory beside it, then the old
 * directory is renamed aside ({@code <name>.old}), the new one renamed into place, and the old one deleted. A kill
 * at any moment leaves the complete old directory or the complete new one under one of those two names;
 * {@link #current} finds it.
 */
public final class AtomicDirectory {
    private AtomicDirectory() {}

    public static void replace(Path target, AtomicFiles.IOConsumer<Path> fill) throws IOException {
        Path abs = target.toAbsolutePath();
        Path parent = Files.createDirectories(abs.getParent());
        Path old = aside(abs);
        // a previous replace killed after moving the old copy aside: that copy is the current one
        if (!Files.exists(abs) && Files.isDirectory(old)) Files.move(old, abs, StandardCopyOption.ATOMIC_MOVE);
        deleteStaleTemps(abs);
        Path tmp = TempPaths.directory(parent, abs.getFileName() + ".tmp-");
        try {
            fill.accept(tmp);
            deleteTree(old);
            if (Files.exists(abs)) Files.move(abs, old, StandardCopyOption.ATOMIC_MOVE);
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            try {
                deleteTree(tmp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        deleteTree(old);
    }

    /** The complete directory last written by {@link #replace}: {@code target}, or its copy set aside; null if none. */
    public static Path current(Path target) {
        if (Files.isDirectory(target)) return target;
        Path old = aside(target.toAbsolutePath());
        return Files.isDirectory(old) ? old : null;
    }

    /** Temporary directories of earlier replaces that were killed before their rename. */
    private static void deleteStaleTemps(Path abs) throws IOException {
        String prefix = abs.getFileName() + ".tmp-";
        try (Stream<Path> siblings = Files.list(abs.getParent())) {
            for (Path p : (Iterable<Path>) siblings.filter(p -> p.getFileName().toString().startsWith(prefix))::iterator) {
                deleteTree(p);
            }
        }
    }

    private static Path aside(Path abs) {
        return abs.resolveSibling(abs.getFileName() + ".old");
    }

    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) Files.delete(p);
        }
    }
}

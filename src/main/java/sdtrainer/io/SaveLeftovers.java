package sdtrainer.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * What a save killed half-way leaves beside an output: the model folder being assembled
 * ({@code <output>.saving-*}, a whole model on real checkpoints), the previous model moved aside for the swap
 * ({@code <output>.old-*}, see {@code StableDiffusion.save}) and the temporary file of an atomic write
 * ({@code .<output>.safetensors.*.tmp}, see {@link AtomicFiles}). Only call it while holding the output's
 * {@link OutputLock}: a live save of another run would look the same.
 */
public final class SaveLeftovers {
    private SaveLeftovers() {}

    /**
     * Deletes the leftovers of {@code output}'s interrupted saves; a moved-aside previous model whose output is
     * missing (killed between the two renames of the swap) is moved back instead. Returns one line per action.
     */
    public static List<String> clean(Path output) throws IOException {
        Path abs = output.toAbsolutePath().normalize();
        Path dir = abs.getParent();
        String name = abs.getFileName().toString();
        List<String> done = new ArrayList<>();
        if (!Files.isDirectory(dir)) return done;
        List<Path> siblings;
        try (Stream<Path> s = Files.list(dir)) {
            siblings = s.sorted().toList();
        }
        for (Path p : siblings) {
            String n = p.getFileName().toString();
            if (n.startsWith(name + ".old-") && Files.isDirectory(p) && !Files.exists(abs)) {
                Files.move(p, abs, StandardCopyOption.ATOMIC_MOVE);
                done.add("restored " + abs + " from " + p + ", which an interrupted save had moved aside");
            }
        }
        for (Path p : siblings) {
            String n = p.getFileName().toString();
            boolean folder = (n.startsWith(name + ".saving-") || n.startsWith(name + ".old-")) && Files.isDirectory(p);
            boolean tempFile = n.startsWith("." + name + ".") && n.endsWith(".tmp") && Files.isRegularFile(p);
            if ((folder || tempFile) && Files.exists(p)) {
                long bytes = deleteTree(p);
                done.add(String.format(java.util.Locale.ROOT, "removed %s (%.1f MiB) left by an interrupted save",
                        p, bytes / (1024.0 * 1024.0)));
            }
        }
        return done;
    }

    private static long deleteTree(Path root) throws IOException {
        long bytes = 0;
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
                if (Files.isRegularFile(p)) bytes += Files.size(p);
                Files.delete(p);
            }
        }
        return bytes;
    }
}

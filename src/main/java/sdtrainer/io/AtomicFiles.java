package sdtrainer.io;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes files so that the target is either its old content or the complete new content, never a
 * half-written file: data goes to a temporary file in the same directory, is flushed to disk and then
 * renamed over the target in one atomic step. A failed write deletes the temporary file, and its error names
 * the target and says that its previous content is intact (a full disk otherwise says only "No space left").
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes content to a stream; may throw IOException. */
    @FunctionalInterface
    public interface IOConsumer<T> {
        void accept(T value) throws IOException;
    }

    /**
     * Runs {@code body} against a buffered stream onto a temporary file, then atomically replaces
     * {@code target} with it. The body must not close the stream (closing it only flushes).
     * The target's directory must exist.
     */
    public static void write(Path target, IOConsumer<OutputStream> body) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        boolean existed = Files.exists(abs);
        Path tmp;
        try {
            tmp = TempPaths.file(dir, "." + abs.getFileName() + ".", ".tmp");
        } catch (java.nio.file.NoSuchFileException e) {
            throw e;
        } catch (IOException e) {
            throw failed(abs, existed, e);
        }
        try {
            keepPermissions(tmp, abs);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
                body.accept(new FilterOutputStream(out) {
                    @Override public void write(byte[] b, int off, int len) throws IOException { out.write(b, off, len); }
                    @Override public void close() throws IOException { out.flush(); }
                });
                out.flush();
                ch.force(true);
            }
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException | Error e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            if (e instanceof IOException io) throw failed(abs, existed, io);
            throw e;
        }
        syncDirectory(dir);
    }

    private static IOException failed(Path target, boolean existed, IOException e) {
        String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return new IOException("writing " + target + " failed (" + reason + "); "
                + (existed ? "its previous content is intact" : "nothing was written in its place"), e);
    }

    public static void writeBytes(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }

    public static void writeString(Path target, String text) throws IOException {
        writeBytes(target, text.getBytes(StandardCharsets.UTF_8));
    }

    /** A replaced file keeps its permissions; a new one has what the umask gives (TempPaths). */
    private static void keepPermissions(Path tmp, Path target) throws IOException {
        if (!Files.exists(target) || !tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) return;
        Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(target));
    }

    /** Makes the rename itself durable; not every platform can open a directory, so failure is ignored. */
    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException ignored) {
            // Best effort: the file content is already on disk, only the rename's durability is at stake.
        }
    }
}

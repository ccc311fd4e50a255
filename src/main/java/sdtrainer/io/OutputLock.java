package sdtrainer.io;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.Optional;

/**
 * An exclusive lock on a run's output, held as {@code <output>.lock} beside it: an operating-system lock on that
 * file (released by the kernel when the process dies, even by kill -9) and, inside it, the owner's pid, host and
 * start time, so a refused run can say who holds it. A lock file whose lock nobody holds is stale (its run was
 * killed) and is taken over. The file is deleted when the lock is released.
 */
public final class OutputLock implements AutoCloseable {
    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;
    private final Optional<String> staleOwner;

    private OutputLock(Path file, FileChannel channel, FileLock lock, Optional<String> staleOwner) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
        this.staleOwner = staleOwner;
    }

    /** Another live process holds the lock; the message names the output and the owner. */
    public static final class HeldException extends IOException {
        HeldException(String message) {
            super(message);
        }
    }

    /** The lock file of {@code output}: {@code <output>.lock} in the same directory. */
    public static Path lockFile(Path output) {
        Path abs = output.toAbsolutePath().normalize();
        return abs.resolveSibling(abs.getFileName() + ".lock");
    }

    /**
     * Takes the lock of {@code output} (its directory must exist).
     *
     * @throws HeldException when another process (or this one) holds it
     */
    public static OutputLock acquire(Path output) throws IOException {
        Path file = lockFile(output);
        for (int attempt = 0; attempt < 5; attempt++) {
            Object before = fileKey(file);
            FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
            if (lock == null) {
                channel.close();
                throw new HeldException(output + ": another run is writing this output (" + owner(file).orElse("owner unknown")
                        + ", lock " + file + "); wait for it to finish, or choose another --output");
            }
            // a releasing owner deletes the file: one who locked the deleted file retries on the new one. Only stat
            // the path: a lock is the process's on the inode, and closing any other descriptor of it drops the lock
            if (before == null || !before.equals(fileKey(file))) {
                lock.release();
                channel.close();
                continue;
            }
            Optional<String> previous = read(channel);
            String content = "pid " + sdtrainer.AllocatorLaunch.userPid() + " on " + host() + ", started " + Instant.now()
                    + "\n";
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8)), 0);
            channel.force(true);
            return new OutputLock(file, channel, lock, previous);
        }
        throw new IOException(file + ": could not take the lock: the file keeps being replaced");
    }

    /** The owner line a run killed without releasing its lock left behind, if the lock was taken over from one. */
    public Optional<String> staleOwner() {
        return staleOwner;
    }

    public Path file() {
        return file;
    }

    /** Deletes the lock file, then releases the lock. */
    @Override
    public void close() throws IOException {
        try {
            Files.deleteIfExists(file);
        } finally {
            try {
                lock.release();
            } finally {
                channel.close();
            }
        }
    }

    private static Optional<String> owner(Path file) {
        try {
            return firstLine(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static Optional<String> read(FileChannel channel) throws IOException {
        long size = Math.min(channel.size(), 4096);
        ByteBuffer buffer = ByteBuffer.allocate((int) size);
        channel.read(buffer, 0);
        return firstLine(new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8));
    }

    /** The identity (device and inode) of the file at {@code path}, or null when there is none; opens nothing. */
    private static Object fileKey(Path path) throws IOException {
        try {
            return Files.readAttributes(path, BasicFileAttributes.class).fileKey();
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private static Optional<String> firstLine(String text) {
        String line = text.lines().findFirst().orElse("").strip();
        return line.isEmpty() ? Optional.empty() : Optional.of(line);
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown host";
        }
    }
}

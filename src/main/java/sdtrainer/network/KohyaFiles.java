package sdtrainer.network;

import sdtrainer.io.DType;
import sdtrainer.io.SafeTensorsWriter;
import sdtrainer.io.TensorData;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * Network files as kohya sd-scripts writes them: safetensors whose metadata carries {@code sshs_model_hash}
 * and {@code sshs_legacy_hash}, the hashes sd-webui-additional-networks indexes files by.
 */
final class KohyaFiles {
    private KohyaFiles() {}

    static final String MODEL_HASH = "sshs_model_hash";
    static final String LEGACY_HASH = "sshs_legacy_hash";

    /** The two hashes: sha256 of everything after the header, and the first 8 hex digits of sha256 of 64 KiB at 1 MiB. */
    record Hashes(String model, String legacy) {}

    /**
     * Writes the tensors with the metadata plus both hashes. As in kohya's {@code precalculate_safetensors_hashes},
     * the hashes are those of the same tensors saved with only the {@code ss_*} metadata, so user-added keys
     * (and the hash keys themselves) do not change them.
     */
    static void write(Path file, Map<String, TensorData> tensors, Map<String, String> metadata, DType precision)
            throws IOException {
        Map<String, String> trainingOnly = new TreeMap<>();
        metadata.forEach((k, v) -> { if (k.startsWith("ss_")) trainingOnly.put(k, v); });
        // hashed as they stream past: a probe file would need the disk space twice, and a full disk would name it
        HashingStream probe = new HashingStream();
        SafeTensorsWriter.writeTo(probe, tensors, trainingOnly, precision);
        Hashes h = probe.hashes();
        Files.createDirectories(file.toAbsolutePath().getParent());
        Map<String, String> all = new TreeMap<>(metadata);
        all.put(MODEL_HASH, h.model());
        all.put(LEGACY_HASH, h.legacy());
        SafeTensorsWriter.write(file, tensors, all, precision);
    }

    /** kohya's {@code addnet_hash_safetensors} and {@code addnet_hash_legacy} of a safetensors file. */
    static Hashes hashes(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (len.hasRemaining() && ch.read(len) >= 0) { /* fill the 8-byte header length */ }
            if (len.hasRemaining()) throw new IOException(file + " is shorter than a safetensors header");
            long headerEnd = 8 + len.getLong(0);
            String model = HexFormat.of().formatHex(sha256(ch, headerEnd, ch.size()));
            // fewer bytes (even none) when the file ends before 1 MiB + 64 KiB, as Python's read() gives
            String legacy = HexFormat.of().formatHex(sha256(ch, 0x100000, Math.min(ch.size(), 0x110000))).substring(0, 8);
            return new Hashes(model, legacy);
        }
    }

    private static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    private static byte[] sha256(FileChannel ch, long from, long to) throws IOException {
        MessageDigest md = newSha256();
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        for (long pos = from; pos < to; ) {
            buf.clear().limit((int) Math.min(buf.capacity(), to - pos));
            int n = ch.read(buf, pos);
            if (n < 0) break;
            buf.flip();
            md.update(buf);
            pos += n;
        }
        return md.digest();
    }

    /** The bytes of a safetensors file as they are written, hashed over the ranges {@link #hashes(Path)} reads. */
    private static final class HashingStream extends OutputStream {
        private static final long LEGACY_FROM = 0x100000;
        private static final long LEGACY_TO = 0x110000;
        private final MessageDigest model = newSha256();
        private final MessageDigest legacy = newSha256();
        private final ByteBuffer headerLength = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        private long pos;

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            for (int i = 0; i < len && pos + i < 8; i++) headerLength.put(b[off + i]);
            if (!headerLength.hasRemaining()) digest(model, b, off, len, 8 + headerLength.getLong(0), Long.MAX_VALUE);
            digest(legacy, b, off, len, LEGACY_FROM, LEGACY_TO);
            pos += len;
        }

        private void digest(MessageDigest md, byte[] b, int off, int len, long from, long to) {
            long start = Math.max(pos, from);
            long end = Math.min(pos + len, to);
            if (start < end) md.update(b, off + (int) (start - pos), (int) (end - start));
        }

        Hashes hashes() {
            return new Hashes(HexFormat.of().formatHex(model.digest()), HexFormat.of().formatHex(legacy.digest()).substring(0, 8));
        }
    }
}

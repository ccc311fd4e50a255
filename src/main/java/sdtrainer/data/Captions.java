package sdtrainer.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** Caption files: UTF-8 text (a leading byte-order mark is dropped), surrounding whitespace stripped. */
public final class Captions {
    private Captions() {}

    /**
     * The caption in {@code file}.
     *
     * @throws IOException naming the file and the byte offset of the first byte that is not UTF-8
     */
    public static String read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult result = decoder.decode(in, out, true);
        if (result.isUnderflow()) result = decoder.flush(out);
        if (result.isError()) {
            throw new IOException(String.format(Locale.ROOT, "%s: not UTF-8 text: byte 0x%02X at offset %d; save the "
                    + "caption as UTF-8", file, bytes[in.position()] & 0xFF, in.position()));
        }
        String text = out.flip().toString();
        return (text.startsWith("\uFEFF") ? text.substring(1) : text).strip();
    }

    /** Checks the caption file of a sample: it must exist and decode; returns the caption. */
    static String check(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException(file + ": missing caption");
        return read(file);
    }
}

package sdtrainer.log;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;

class Crc32cTest {

    @Test
    void standardCheckValue() {
        assertEquals(0xE3069283, Crc32c.compute("123456789".getBytes(StandardCharsets.US_ASCII)));
    }

    /** The CRC-32C test vectors of RFC 3720, appendix B.4. */
    @Test
    void rfc3720Vectors() {
        byte[] zeros = new byte[32];
        byte[] ones = new byte[32];
        Arrays.fill(ones, (byte) 0xFF);
        byte[] ascending = new byte[32];
        byte[] descending = new byte[32];
        for (int i = 0; i < 32; i++) {
            ascending[i] = (byte) i;
            descending[i] = (byte) (31 - i);
        }
        assertEquals(0x8A9136AA, Crc32c.compute(zeros));
        assertEquals(0x62A8AB43, Crc32c.compute(ones));
        assertEquals(0x46DD794E, Crc32c.compute(ascending));
        assertEquals(0x113FDB5C, Crc32c.compute(descending));
    }

    @Test
    void rangeCoversOnlyTheGivenBytes() {
        byte[] padded = "xx123456789yy".getBytes(StandardCharsets.US_ASCII);
        assertEquals(0xE3069283, Crc32c.compute(padded, 2, 9));
    }

    /** Expected values computed apart from this code, with a bitwise CRC-32C and the mask in Python. */
    @Test
    void maskMatchesTfRecordDefinition() {
        assertEquals(0xC78AB0E5, Crc32c.mask(0xE3069283));
        assertEquals(0xC78AB0E5, Crc32c.masked("123456789".getBytes(StandardCharsets.US_ASCII), 0, 9));
        // The length CRC of an empty record: eight zero bytes.
        assertEquals(0x07980329, Crc32c.masked(new byte[8], 0, 8));
    }
}

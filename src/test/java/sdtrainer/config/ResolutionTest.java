package sdtrainer.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ResolutionTest {

    @Test
    void widthThenHeight() {
        assertEquals(new Resolution(768, 512), Resolution.parse("768,512"));
        assertEquals(new Resolution(768, 512), Resolution.parse(" 768 , 512 "));
    }

    @Test
    void oneValueIsASquare() {
        assertEquals(new Resolution(640, 640), Resolution.parse("640"));
    }

    @Test
    void notAMultipleOfEightSuggestsTheNeighbours() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Resolution.parse("512,500"));
        assertTrue(e.getMessage().contains("500 is not a multiple of 8; use 496 or 504"), e.getMessage());
    }

    @Test
    void sidesAreBoundedSoAHugeValueFailsValidationNamingTheLimit() {
        assertEquals(new Resolution(Resolution.MAX_SIDE, 512), Resolution.parse(Resolution.MAX_SIDE + ",512"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Resolution.parse("100000"));
        assertTrue(e.getMessage().startsWith("100000 is larger than 8192;"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-8,8", "", "512,512,512", "512,", "abc", "5.5e2"})
    void rejectsMalformedSizes(String text) {
        assertThrows(IllegalArgumentException.class, () -> Resolution.parse(text));
    }

    @Test
    void printsInTheOptionsSpelling() {
        assertEquals("512,768", Resolution.parse("512,768").toString());
    }
}

package sdtrainer.preprocess;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PythonLiteralTest {
    @Test
    void dictAsPythonPrintsIt() {
        Object v = PythonLiteral.parse("{'id': 123, 'score': -7, 'ratio': 1.5e2, 'is_deleted': False, "
                + "'parent_id': None, 'tags': ['a', \"b's\"], 'size': (3, 4), 'one': (5,), 'ok': True,}");
        Map<Object, Object> expected = new LinkedHashMap<>();
        expected.put("id", 123L);
        expected.put("score", -7L);
        expected.put("ratio", 150.0);
        expected.put("is_deleted", false);
        expected.put("parent_id", null);
        expected.put("tags", List.of("a", "b's"));
        expected.put("size", List.of(3L, 4L));
        expected.put("one", List.of(5L));
        expected.put("ok", true);
        assertEquals(expected, v);
        assertEquals(List.copyOf(expected.keySet()), List.copyOf(((Map<?, ?>) v).keySet()));
    }

    @Test
    void stringEscapesPrefixesAndConcatenation() {
        assertEquals("it's \"q\"\n\t\\ é ☃ \u0001", PythonLiteral.parse("'it\\'s \"q\"\\n\\t\\\\ \\xe9 \\u2603 \\1'"));
        assertEquals("a\\nb", PythonLiteral.parse("r'a\\nb'"));
        assertEquals("abcd", PythonLiteral.parse("'ab' \"cd\""));
        assertEquals("x'y\"z", PythonLiteral.parse("'''x'y\"z'''"));
        assertEquals("\\d", PythonLiteral.parse("'\\d'"));
    }

    @Test
    void numbersSetsAndEmptyContainers() {
        assertEquals(new BigInteger("123456789012345678901234567890"), PythonLiteral.parse("123456789012345678901234567890"));
        assertEquals(255L, PythonLiteral.parse("0xff"));
        assertEquals(1000L, PythonLiteral.parse("1_000"));
        assertEquals(-0.5, PythonLiteral.parse("-.5"));
        assertEquals(7L, PythonLiteral.parse("(7)"));
        assertEquals(new LinkedHashSet<>(Arrays.asList("b", "a")), PythonLiteral.parse("{'b', 'a'}"));
        assertEquals(Map.of(), PythonLiteral.parse("{ }"));
        assertEquals(List.of(), PythonLiteral.parse("[]"));
        assertEquals(List.of(), PythonLiteral.parse("()"));
        assertNull(PythonLiteral.parse(" None "));
    }

    @Test
    void malformedTextIsRejectedWithItsPosition() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PythonLiteral.parse("{'a': 1,\n 'b': lazy}"));
        assertTrue(e.getMessage().contains("'lazy'") && e.getMessage().contains("line 2"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PythonLiteral.parse("{'a': 'open}"));
        assertThrows(IllegalArgumentException.class, () -> PythonLiteral.parse("{'a' 1}"));
        assertThrows(IllegalArgumentException.class, () -> PythonLiteral.parse("[1, 2"));
        assertThrows(IllegalArgumentException.class, () -> PythonLiteral.parse("{'a': 1} extra"));
        assertThrows(IllegalArgumentException.class, () -> PythonLiteral.parse("-'x'"));
        assertThrows(IllegalArgumentException.class, () -> PythonLiteral.parse(""));
    }
}

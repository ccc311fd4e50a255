package sdtrainer.preprocess;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses the Python literal text that {@code str(dict)} writes (what the original read with
 * {@code ast.literal_eval}): dicts, lists, tuples, sets, strings with escapes and adjacent-literal
 * concatenation, ints, floats, {@code True}/{@code False}/{@code None}. Dicts become ordered maps,
 * lists/tuples lists, sets ordered sets, ints {@code Long} (or {@code BigInteger}), floats {@code Double}.
 */
public final class PythonLiteral {
    private final String text;
    private int pos;

    private PythonLiteral(String text) {
        this.text = text;
    }

    /** @throws IllegalArgumentException saying where and what is wrong */
    public static Object parse(String text) {
        PythonLiteral parser = new PythonLiteral(text);
        Object value = parser.value();
        parser.skipSpace();
        if (parser.pos != text.length()) {
            throw parser.error("unexpected text after the literal");
        }
        return value;
    }

    private Object value() {
        skipSpace();
        if (pos >= text.length()) {
            throw error("unexpected end of text");
        }
        char c = text.charAt(pos);
        return switch (c) {
            case '{' -> dictOrSet();
            case '[' -> sequence('[', ']');
            case '(' -> tuple();
            case '-', '+' -> signed();
            default -> {
                if (c == '\'' || c == '"' || isStringPrefix()) {
                    yield strings();
                }
                if (Character.isDigit(c) || c == '.') {
                    yield number();
                }
                yield name();
            }
        };
    }

    private Object dictOrSet() {
        pos++; // '{'
        skipSpace();
        if (peek('}')) {
            pos++;
            return new LinkedHashMap<>();
        }
        Object first = value();
        skipSpace();
        if (peek(':')) {
            Map<Object, Object> map = new LinkedHashMap<>();
            pos++;
            map.put(first, value());
            while (separatorBefore('}')) {
                Object key = value();
                expect(':');
                map.put(key, value());
            }
            return map;
        }
        Set<Object> set = new LinkedHashSet<>();
        set.add(first);
        while (separatorBefore('}')) {
            set.add(value());
        }
        return set;
    }

    private List<Object> sequence(char open, char close) {
        pos++; // open bracket
        List<Object> items = new ArrayList<>();
        skipSpace();
        if (peek(close)) {
            pos++;
            return items;
        }
        items.add(value());
        while (separatorBefore(close)) {
            items.add(value());
        }
        return items;
    }

    /** A parenthesised value is itself unless a comma makes it a tuple. */
    private Object tuple() {
        int start = pos;
        pos++;
        skipSpace();
        if (peek(')')) {
            pos++;
            return List.of();
        }
        Object first = value();
        skipSpace();
        if (peek(')')) {
            pos++;
            return first;
        }
        pos = start;
        return sequence('(', ')');
    }

    /**
     * After an item: consumes a comma (and the closing bracket when it follows, a trailing comma) or
     * the closing bracket. Returns true when another item follows.
     */
    private boolean separatorBefore(char close) {
        skipSpace();
        if (peek(close)) {
            pos++;
            return false;
        }
        expect(',');
        skipSpace();
        if (peek(close)) {
            pos++;
            return false;
        }
        return true;
    }

    private Object signed() {
        boolean negative = text.charAt(pos) == '-';
        pos++;
        Object v = value();
        if (v instanceof Long l) {
            return negative ? -l : l;
        }
        if (v instanceof BigInteger b) {
            return negative ? b.negate() : b;
        }
        if (v instanceof Double d) {
            return negative ? -d : d;
        }
        throw error("a sign must precede a number");
    }

    private Object number() {
        int start = pos;
        if (text.startsWith("0x", pos) || text.startsWith("0X", pos)) {
            pos += 2;
            return integer(start + 2, 16);
        }
        boolean isFloat = false;
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (Character.isDigit(c) || c == '_') {
                pos++;
            } else if (c == '.' || c == 'e' || c == 'E') {
                isFloat = true;
                pos++;
                if ((c == 'e' || c == 'E') && pos < text.length() && (text.charAt(pos) == '+' || text.charAt(pos) == '-')) {
                    pos++;
                }
            } else {
                break;
            }
        }
        String digits = text.substring(start, pos).replace("_", "");
        try {
            if (isFloat) {
                return Double.parseDouble(digits);
            }
        } catch (NumberFormatException e) {
            throw error("malformed number '" + digits + "'");
        }
        pos = start;
        return integer(start, 10);
    }

    private Object integer(int start, int radix) {
        while (pos < text.length() && (Character.digit(text.charAt(pos), radix) >= 0 || text.charAt(pos) == '_')) {
            pos++;
        }
        String digits = text.substring(start, pos).replace("_", "");
        if (digits.isEmpty()) {
            throw error("malformed number");
        }
        BigInteger value = new BigInteger(digits, radix);
        return value.bitLength() < 64 ? (Object) value.longValue() : value;
    }

    private Object name() {
        int start = pos;
        while (pos < text.length() && Character.isJavaIdentifierPart(text.charAt(pos))) {
            pos++;
        }
        String word = text.substring(start, pos);
        return switch (word) {
            case "True" -> Boolean.TRUE;
            case "False" -> Boolean.FALSE;
            case "None" -> null;
            default -> {
                pos = start;
                throw error(word.isEmpty() ? "unexpected character '" + text.charAt(pos) + "'"
                        : "'" + word + "' is not a literal (only True, False, None are allowed)");
            }
        };
    }

    private boolean isStringPrefix() {
        int p = pos;
        while (p < text.length() && p - pos < 2 && "rRuUbB".indexOf(text.charAt(p)) >= 0) {
            p++;
        }
        return p > pos && p < text.length() && (text.charAt(p) == '\'' || text.charAt(p) == '"');
    }

    /** One or more adjacent string literals, concatenated as Python does. */
    private String strings() {
        StringBuilder sb = new StringBuilder();
        do {
            string(sb);
            skipSpace();
        } while (pos < text.length() && (text.charAt(pos) == '\'' || text.charAt(pos) == '"' || isStringPrefix()));
        return sb.toString();
    }

    private void string(StringBuilder sb) {
        boolean raw = false;
        while ("rRuUbB".indexOf(text.charAt(pos)) >= 0) {
            raw |= text.charAt(pos) == 'r' || text.charAt(pos) == 'R';
            pos++;
        }
        char quote = text.charAt(pos);
        boolean triple = text.startsWith(String.valueOf(quote).repeat(3), pos);
        int start = pos;
        pos += triple ? 3 : 1;
        while (true) {
            if (pos >= text.length()) {
                pos = start;
                throw error("string is not closed");
            }
            char c = text.charAt(pos);
            if (c == quote && (!triple || text.startsWith(String.valueOf(quote).repeat(3), pos))) {
                pos += triple ? 3 : 1;
                return;
            }
            if (c == '\n' && !triple) {
                throw error("line break inside a string");
            }
            if (c == '\\' && pos + 1 < text.length()) {
                if (raw) {
                    sb.append(c).append(text.charAt(pos + 1));
                    pos += 2;
                } else {
                    escape(sb);
                }
                continue;
            }
            sb.append(c);
            pos++;
        }
    }

    private void escape(StringBuilder sb) {
        char e = text.charAt(pos + 1);
        pos += 2;
        switch (e) {
            case '\n' -> { } // line continuation
            case '\\', '\'', '"' -> sb.append(e);
            case 'n' -> sb.append('\n');
            case 't' -> sb.append('\t');
            case 'r' -> sb.append('\r');
            case 'a' -> sb.append('\u0007');
            case 'b' -> sb.append('\b');
            case 'f' -> sb.append('\f');
            case 'v' -> sb.append('\u000B');
            case 'x' -> sb.appendCodePoint(hex(2));
            case 'u' -> sb.appendCodePoint(hex(4));
            case 'U' -> sb.appendCodePoint(hex(8));
            default -> {
                if (e >= '0' && e <= '7') {
                    int v = e - '0';
                    for (int i = 0; i < 2 && pos < text.length() && text.charAt(pos) >= '0' && text.charAt(pos) <= '7'; i++) {
                        v = v * 8 + text.charAt(pos++) - '0';
                    }
                    sb.append((char) v);
                } else {
                    sb.append('\\').append(e); // Python keeps unknown escapes verbatim
                }
            }
        }
    }

    private int hex(int digits) {
        if (pos + digits > text.length()) {
            throw error("truncated escape");
        }
        try {
            int cp = Integer.parseInt(text.substring(pos, pos + digits), 16);
            pos += digits;
            return cp;
        } catch (NumberFormatException e) {
            throw error("malformed escape");
        }
    }

    private void expect(char c) {
        skipSpace();
        if (!peek(c)) {
            throw error("expected '" + c + "'");
        }
        pos++;
    }

    private boolean peek(char c) {
        return pos < text.length() && text.charAt(pos) == c;
    }

    private void skipSpace() {
        while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
            pos++;
        }
    }

    private IllegalArgumentException error(String what) {
        int line = 1;
        int column = 1;
        for (int i = 0; i < Math.min(pos, text.length()); i++) {
            if (text.charAt(i) == '\n') {
                line++;
                column = 1;
            } else {
                column++;
            }
        }
        return new IllegalArgumentException("not a Python literal: " + what + " at line " + line + ", column " + column);
    }
}

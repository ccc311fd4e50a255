package sdtrainer.log;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Self time is total less the nested operators, per thread; top-level calls are the un-nested ones. */
class OpProfileTest {

    @Test
    void selfTimeSubtractsNestedOperatorsPerThread() throws Exception {
        String trace = "[" + String.join(",",
                event("aten::linear", 1, 0, 100),
                event("aten::addmm", 1, 10, 80),
                event("aten::copy_", 1, 20, 5),
                event("aten::add", 1, 200, 30),
                event("AddmmBackward0", 2, 50, 40), // another thread, overlapping in time: not nested
                event("aten::mm", 2, 55, 30),
                "{\"name\": \"meta\", \"ph\": \"M\"}") + "]";
        OpProfile p = OpProfile.of(new ObjectMapper().readTree(trace), 2);
        Map<String, OpProfile.Op> ops = p.ops().stream().collect(Collectors.toMap(OpProfile.Op::name, o -> o));
        assertEquals(20e-3, ops.get("aten::linear").selfMs(), 1e-12);
        assertEquals(100e-3, ops.get("aten::linear").totalMs(), 1e-12);
        assertEquals(75e-3, ops.get("aten::addmm").selfMs(), 1e-12);
        assertEquals(10e-3, ops.get("AddmmBackward0").selfMs(), 1e-12);
        assertEquals(3, p.topLevelCalls(), "linear, add, AddmmBackward0");
        assertEquals(6, p.allCalls());
        assertEquals("aten::addmm", p.ops().get(0).name(), "sorted by self time");
    }

    private static String event(String name, int tid, double ts, double dur) {
        return String.format(java.util.Locale.ROOT, "{\"name\": \"%s\", \"ph\": \"X\", \"ts\": %f, \"dur\": %f, \"tid\": %d, \"pid\": \"CPU Functions\"}",
                name, ts, dur, tid);
    }
}
